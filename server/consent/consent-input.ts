/**
 * Checks what a caller asks consent for (RequestConnection / ReconnectConnection fields) before
 * anything is looked up or created. Each rule throws InvalidArgumentError naming the proto field.
 * Param values are single DNS labels because they are spliced into provider URLs
 * (`https://{shop}.myshopify.com`): "evil.com/x" or "a@b" must never reach a template.
 */
import { MAX_LABEL_KEY_LENGTH, MAX_LABEL_VALUE_LENGTH, MAX_LABELS } from "../config/defaults.ts";
import { InvalidArgumentError } from "../domain/errors.ts";
import { URL_PARAM_PATTERN } from "../providers/endpoint-url.ts";
import type { ProviderProfile } from "../providers/profile.ts";
import { CONNECTION_LABEL_PATTERN } from "../providers/url-template.ts";

/** What RequestConnection asks for, as plain domain values. */
export interface ConsentRequest {
  userId: string;
  providerName: string;
  /** Scopes beyond the provider's defaults. */
  scopes: readonly string[];
  returnUrl: string;
  params: Readonly<Record<string, string>>;
  /** The caller's labels (RequestConnection.labels). */
  labels?: Readonly<Record<string, string>>;
  /** End on an existing active connection of the same account instead of creating a duplicate. */
  reuseExisting?: boolean;
}

/** Most scopes one request may name. */
export const MAX_SCOPES = 100;

/** RFC 6749 §3.3 scope-token: printable ASCII except space, '"' and '\'; at most 256 characters here. */
const SCOPE_PATTERN = /^[\x21\x23-\x5B\x5D-\x7E]{1,256}$/;
const PROVIDER_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,63}$/;

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
 * Checks params against the provider's URL parameters. Only connection-set ones (url_params) may be
 * given, and each must be one lower-case DNS label: it fills a label under the profile's fixed
 * domain (`{shop}.myshopify.com`), so "evil.com/x", "a.b" or "x@evil.com" never reach a template.
 * An operator-set name (operator_params: Okta domain, Keycloak host) is refused, not ignored, so a
 * caller learns it cannot choose where the client secret goes.
 * @returns a plain copy of the params.
 */
export function checkParams(
  params: Readonly<Record<string, string>>,
  profile: Pick<ProviderProfile, "urlParams" | "operatorParams">,
): Record<string, string> {
  const checked: Record<string, string> = {};
  for (const [name, value] of Object.entries(params)) {
    if (!URL_PARAM_PATTERN.test(name)) throw new InvalidArgumentError("params", "has a key that is not a URL parameter of this provider");
    if (profile.operatorParams !== undefined && Object.hasOwn(profile.operatorParams, name)) {
      throw new InvalidArgumentError(
        `params[${name}]`,
        "is set by the operator in the provider's configuration; a connection cannot choose it",
      );
    }
    if (!profile.urlParams.includes(name)) throw new InvalidArgumentError(`params[${name}]`, "is not a URL parameter of this provider");
    if (!CONNECTION_LABEL_PATTERN.test(value)) {
      throw new InvalidArgumentError(
        `params[${name}]`,
        "must be one lower-case DNS label: 1-63 letters a-z, digits or '-', not starting or ending with '-'",
      );
    }
    checked[name] = value;
  }
  for (const name of profile.urlParams) {
    if (!Object.hasOwn(checked, name)) throw new InvalidArgumentError(`params[${name}]`, "is required by the provider");
  }
  return checked;
}

/** A label key: a lower-case letter, then a-z, 0-9, '_', '.' or '-', at most MAX_LABEL_KEY_LENGTH characters. */
const LABEL_KEY_PATTERN = /^[a-z][a-z0-9_.-]*$/;

/** Why a label key is not acceptable (as a RequestConnection label or a ListConnections filter), or undefined. */
export function labelKeyProblem(key: string): string | undefined {
  if (key.length > MAX_LABEL_KEY_LENGTH || !LABEL_KEY_PATTERN.test(key)) {
    return `keys must be 1-${MAX_LABEL_KEY_LENGTH} characters of a-z, 0-9, '_', '.' or '-', starting with a letter`;
  }
  return undefined;
}

/**
 * Checks RequestConnection labels: at most MAX_LABELS, keys per `labelKeyProblem`, values at most
 * MAX_LABEL_VALUE_LENGTH characters (control characters are refused for every string field by the
 * input interceptor). A bad key is reported on the map ("labels"), a bad value as labels[key].
 * @returns a plain copy.
 */
export function checkLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) throw new InvalidArgumentError("labels", `must have at most ${MAX_LABELS} entries`);
  const checked: Record<string, string> = {};
  for (const [key, value] of entries) {
    const problem = labelKeyProblem(key);
    if (problem !== undefined) throw new InvalidArgumentError("labels", problem);
    if (value.length > MAX_LABEL_VALUE_LENGTH) {
      throw new InvalidArgumentError(`labels[${key}]`, `must be at most ${MAX_LABEL_VALUE_LENGTH} characters`);
    }
    checked[key] = value;
  }
  return checked;
}

/**
 * Parses ListConnections `labels` filters, each "key=value" (the first '=' splits), into a map.
 * At most MAX_LABELS; the same key twice must name the same value.
 */
export function parseLabelFilters(filters: readonly string[]): Record<string, string> {
  if (filters.length > MAX_LABELS) throw new InvalidArgumentError("labels", `must have at most ${MAX_LABELS} entries`);
  const parsed: Record<string, string> = {};
  filters.forEach((filter, i) => {
    const at = filter.indexOf("=");
    if (at < 0) throw new InvalidArgumentError(`labels[${i}]`, 'must be written "key=value"');
    const [key, value] = [filter.slice(0, at), filter.slice(at + 1)];
    const problem = labelKeyProblem(key);
    if (problem !== undefined) throw new InvalidArgumentError(`labels[${i}]`, problem);
    if (value.length > MAX_LABEL_VALUE_LENGTH) {
      throw new InvalidArgumentError(`labels[${i}]`, `value must be at most ${MAX_LABEL_VALUE_LENGTH} characters`);
    }
    if (Object.hasOwn(parsed, key) && parsed[key] !== value) {
      throw new InvalidArgumentError(`labels[${i}]`, `names "${key}" twice with different values (no connection can match)`);
    }
    parsed[key] = value;
  });
  return parsed;
}
