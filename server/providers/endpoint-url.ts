/**
 * Checks a provider endpoint URL (issuer, authorization, token, revocation, userinfo, test): absolute,
 * https (plain http only on loopback, for development and tests), no credentials, no fragment, and
 * `{param}` placeholders that are well formed. Whether a placeholder is a declared url_param is a
 * cross-field rule of validate-profile.ts; filling placeholders in is the OAuth flow's job.
 */

/** A url_param / placeholder name: lower-case snake case, 1-64 characters. */
export const URL_PARAM_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;

const MAX_URL_LENGTH = 2048;
const PLACEHOLDER = /\{([^{}]*)\}/g;
const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** The names of the `{param}` placeholders in a URL template, in order of appearance. */
export function placeholderNames(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1] ?? "");
}

/**
 * Why `value` is not an acceptable endpoint URL template, or undefined when it is.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-3.1 (endpoint URIs carry no fragment)
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-10.9 (TLS for every endpoint)
 */
export function endpointUrlProblem(value: string): string | undefined {
  if (value.length > MAX_URL_LENGTH) return `must be at most ${MAX_URL_LENGTH} characters`;
  for (const name of placeholderNames(value)) {
    if (!URL_PARAM_PATTERN.test(name)) return `has an invalid placeholder "{${name.slice(0, 32)}}" (use {lower_snake_case})`;
  }
  // Parse with each placeholder replaced by a plain label, so "https://{shop}.myshopify.com" is
  // judged like "https://x.myshopify.com" (a placeholder can't smuggle in a scheme or userinfo).
  const concrete = value.replace(PLACEHOLDER, "x");
  if (/[{}]/.test(concrete)) return "has an unbalanced '{' or '}'";
  let url: URL;
  try {
    url = new URL(concrete);
  } catch {
    return "must be an absolute URL";
  }
  if (url.username !== "" || url.password !== "") return "must not contain credentials";
  if (concrete.includes("#")) return "must not contain a fragment";
  if (url.protocol === "https:") return undefined;
  if (url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname)) return undefined;
  return "must use https (http is allowed only for localhost, 127.0.0.1 and [::1])";
}

/** Why `value` is not an acceptable OIDC issuer, or undefined (endpoint rules plus no query). */
export function issuerUrlProblem(value: string): string | undefined {
  const problem = endpointUrlProblem(value);
  if (problem !== undefined) return problem;
  // OIDC Discovery §4.3 compares the issuer string exactly; a query would never match.
  if (value.includes("?")) return "must not contain a query";
  return undefined;
}
