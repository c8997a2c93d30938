/**
 * Checks what a caller asks consent for (RequestConnection / ReconnectConnection fields) before
 * anything is looked up or created. Each rule throws InvalidArgumentError naming the proto field.
 * Param values are restricted to host-label-safe characters because they are spliced into provider
 * URLs (`https://{shop}.myshopify.com`): "evil.com/x" or "a@b" must never reach a template.
 */
import { InvalidArgumentError } from "../domain/errors.ts";

/** What RequestConnection asks for, as plain domain values. */
export interface ConsentRequest {
  userId: string;
  providerName: string;
  /** Scopes beyond the provider's defaults. */
  scopes: readonly string[];
  returnUrl: string;
  params: Readonly<Record<string, string>>;
}

/** Most scopes one request may name. */
export const MAX_SCOPES = 100;

/** RFC 6749 §3.3 scope-token: printable ASCII except space, '"' and '\'; at most 256 characters here. */
const SCOPE_PATTERN = /^[\x21\x23-\x5B\x5D-\x7E]{1,256}$/;
const PROVIDER_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,63}$/;
/** Starts with a letter or digit; letters, digits, '.', '-'; 1-128 characters. */
const PARAM_VALUE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9.-]{0,127}$/;

/** Checks user_id: required, 1-256 characters. */
export function checkUserId(userId: string): string {
  if (userId === "") throw new InvalidArgumentError("user_id", "is required");
  if (userId.length > 256) throw new InvalidArgumentError("user_id", "must be at most 256 characters");
  return userId;
}

/** Checks provider_name and returns it lower-cased (names match case-insensitively). */
export function checkProviderName(name: string): string {
  if (name === "") throw new InvalidArgumentError("provider_name", "is required");
  const lower = name.toLowerCase();
  if (!PROVIDER_NAME_PATTERN.test(lower)) {
    throw new InvalidArgumentError("provider_name", "must be 1-64 letters, digits or '-'");
  }
  return lower;
}

/**
 * Checks requested scopes: at most 100, each an RFC 6749 §3.3 scope-token of 1-256 characters, and
 * none containing the provider's scope separator (a "," inside one scope would split it in two).
 */
export function checkScopes(scopes: readonly string[], separator = " "): readonly string[] {
  if (scopes.length > MAX_SCOPES) throw new InvalidArgumentError("scopes", `must have at most ${MAX_SCOPES} entries`);
  scopes.forEach((scope, i) => {
    if (!SCOPE_PATTERN.test(scope)) {
      throw new InvalidArgumentError(`scopes[${i}]`, "must be 1-256 printable characters without spaces, '\"' or '\\'");
    }
    if (separator.trim() !== "" && scope.includes(separator)) {
      throw new InvalidArgumentError(`scopes[${i}]`, `must not contain the provider's scope separator "${separator}"`);
    }
  });
  return scopes;
}

/**
 * Checks params against the provider's url_params: exactly those keys, each value host-label safe.
 * @returns a plain copy of the params.
 */
export function checkParams(params: Readonly<Record<string, string>>, urlParams: readonly string[]): Record<string, string> {
  for (const name of urlParams) {
    if (!Object.hasOwn(params, name)) throw new InvalidArgumentError("params", `is missing "${name}", required by the provider`);
  }
  const checked: Record<string, string> = {};
  for (const [name, value] of Object.entries(params)) {
    if (!urlParams.includes(name)) {
      throw new InvalidArgumentError("params", `has "${name.slice(0, 64)}", which the provider does not use`);
    }
    if (!PARAM_VALUE_PATTERN.test(value)) {
      throw new InvalidArgumentError(`params[${name}]`, "must be 1-128 letters, digits, '.' or '-', starting with a letter or digit");
    }
    checked[name] = value;
  }
  return checked;
}
