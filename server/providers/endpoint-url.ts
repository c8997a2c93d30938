/**
 * Checks a provider endpoint URL (issuer, authorization, token, revocation, userinfo, test) in two
 * steps. As written: well-formed `{param}` placeholders, each where a value may go (url-template.ts).
 * Once the operator's values are filled in: absolute, https (plain http only on loopback, for
 * development and tests), no credentials, no fragment. Who may set each placeholder is a cross-field
 * rule of validate-profile.ts; filling placeholders in at request time is the OAuth flow's job.
 */
import { analyzeUrlTemplate, templateParamNames } from "./url-template.ts";

/** A url_param / placeholder name: lower-case snake case, 1-64 characters. */
export const URL_PARAM_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;

const MAX_URL_LENGTH = 2048;
const PLACEHOLDER = /\{([^{}]*)\}/g;
const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** The names of the `{param}` placeholders in a URL template, in order of appearance. */
export function placeholderNames(template: string): string[] {
  return templateParamNames(template);
}

/**
 * Why `value` is not an acceptable endpoint URL template as written, or undefined when it is. The
 * scheme rule waits for `endpointUrlProblem` on the filled URL: `http://{host}` is fine when the
 * operator's host is loopback.
 */
export function endpointTemplateProblem(value: string): string | undefined {
  if (value.length > MAX_URL_LENGTH) return `must be at most ${MAX_URL_LENGTH} characters`;
  for (const name of placeholderNames(value)) {
    if (!URL_PARAM_PATTERN.test(name)) return `has an invalid placeholder "{${name.slice(0, 32)}}" (use {lower_snake_case})`;
  }
  if (/[{}]/.test(value.replace(PLACEHOLDER, "x"))) return "has an unbalanced '{' or '}'";
  const analyzed = analyzeUrlTemplate(value);
  if (!Array.isArray(analyzed)) return analyzed.problem;
  return concreteProblem(value.replace(PLACEHOLDER, "x"), false);
}

/** Why `value` is not an acceptable issuer template (endpoint rules plus no query), or undefined. */
export function issuerTemplateProblem(value: string): string | undefined {
  const problem = endpointTemplateProblem(value);
  if (problem !== undefined) return problem;
  // OIDC Discovery §4.3 compares the issuer string exactly; a query would never match.
  if (value.includes("?")) return "must not contain a query";
  return undefined;
}

/**
 * Why `value` is not an acceptable api_base_url template (endpoint rules plus no query), or
 * undefined. The proxied path and query are appended to it, so it carries neither query nor fragment.
 */
export function apiBaseTemplateProblem(value: string): string | undefined {
  const problem = endpointTemplateProblem(value);
  if (problem !== undefined) return problem;
  if (value.includes("?")) return "must not contain a query";
  return undefined;
}

/**
 * Why a filled-in endpoint URL is not acceptable, or undefined when it is.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-3.1 (endpoint URIs carry no fragment)
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-10.9 (TLS for every endpoint)
 */
export function endpointUrlProblem(value: string): string | undefined {
  if (value.length > MAX_URL_LENGTH) return `must be at most ${MAX_URL_LENGTH} characters`;
  return concreteProblem(value, true);
}

/** Why a filled-in issuer URL is not acceptable (endpoint rules plus no query), or undefined. */
export function issuerUrlProblem(value: string): string | undefined {
  const problem = endpointUrlProblem(value);
  if (problem !== undefined) return problem;
  if (value.includes("?")) return "must not contain a query";
  return undefined;
}

function concreteProblem(value: string, checkScheme: boolean): string | undefined {
  if (/[{}]/.test(value)) return "has an unbalanced '{' or '}'";
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "must be an absolute URL";
  }
  if (url.username !== "" || url.password !== "") return "must not contain credentials";
  if (value.includes("#")) return "must not contain a fragment";
  if (url.protocol === "https:") return undefined;
  if (url.protocol === "http:" && (!checkScheme || LOOPBACK_HOSTS.has(url.hostname))) return undefined;
  return "must use https (http is allowed only for localhost, 127.0.0.1 and [::1])";
}
