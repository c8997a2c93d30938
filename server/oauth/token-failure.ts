/**
 * The one place provider failures are sorted (style.md §2.3). First arctic's four kinds — fetch
 * failed, OAuth error body, unexpected status, unexpected body — then the RFC 6749 §5.2 code decides
 * who is to blame. Only `invalid_grant` is a dead grant; a wrong client-auth method
 * (`invalid_client`, a 401) is a provider-configuration fault, never the user's grant.
 */
import { OperationProcessingError, ResponseBodyError, UnsupportedOperationError, WWWAuthenticateChallengeError } from "oauth4webapi";
import { IdTokenValidationError } from "./id-token-check.ts";
import { InsecureEndpointError } from "./request-options.ts";

/** How a token-endpoint (or discovery/revocation) request failed, and what that means. */
export interface TokenFailure {
  kind: "network" | "oauth_error" | "unexpected_status" | "unexpected_body";
  /** The RFC 6749 §5.2 `error` code, when the provider sent one. */
  error?: string;
  /** HTTP status, when a response arrived. */
  status?: number;
  /** Whether trying again later (with backoff) may succeed. */
  retryable: boolean;
  /**
   * user_grant: the user's grant is dead, a person must consent again (attention_required).
   * provider_config: Nexus's provider profile or client registration is wrong (an operator must act).
   * transient: the provider is unreachable or failing for now.
   */
  blame: "user_grant" | "provider_config" | "transient";
}

/** RFC 6749 §5.2 codes that mean the client registration or profile is wrong. */
const CONFIG_ERRORS = new Set(["invalid_client", "unauthorized_client", "unsupported_grant_type", "invalid_scope", "invalid_request"]);

/** Codes that say "later" (RFC 6749 §4.1.2.1 defines them for the authorization endpoint; providers use them here too). */
const TRANSIENT_ERRORS = new Set(["temporarily_unavailable", "server_error", "slow_down"]);

/**
 * Classifies an error thrown by a token, discovery or revocation request of server/oauth.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export function classifyTokenFailure(err: unknown): TokenFailure {
  if (err instanceof ResponseBodyError) return fromErrorCode("oauth_error", err.error, err.status);
  if (err instanceof WWWAuthenticateChallengeError) {
    // A challenge on the token endpoint answers bad client authentication (RFC 6749 §5.2 invalid_client).
    const code = err.cause.find((c) => typeof c.parameters.error === "string")?.parameters.error;
    return code !== undefined ? fromErrorCode("oauth_error", code, err.status) : fromStatus(err.status);
  }
  if (err instanceof IdTokenValidationError || err instanceof UnsupportedOperationError) {
    return { kind: "unexpected_body", retryable: false, blame: "provider_config" };
  }
  if (err instanceof OperationProcessingError) {
    // An error status whose body is not an OAuth error (HTML from a proxy, an empty 503): the status
    // decides. oauth4webapi reports it as RESPONSE_IS_NOT_CONFORM, or RESPONSE_IS_NOT_JSON for a 4xx.
    if (err.cause instanceof Response && err.cause.status !== 200) return fromStatus(err.cause.status);
    // GitHub answers token errors with HTTP 200 and {"error": "bad_verification_code"}: oauth4webapi
    // then finds no access_token. Read the code from the body so it is classified like a 400.
    const body = (err.cause as { body?: { error?: unknown } } | undefined)?.body;
    if (typeof body?.error === "string" && body.error !== "") return fromErrorCode("oauth_error", body.error, 200);
    return { kind: "unexpected_body", retryable: false, blame: "provider_config" };
  }
  if (err instanceof InsecureEndpointError) return { kind: "network", retryable: false, blame: "provider_config" };
  if (isNetworkFailure(err)) return { kind: "network", retryable: true, blame: "transient" };
  return { kind: "unexpected_body", retryable: false, blame: "provider_config" };
}

function fromErrorCode(kind: "oauth_error", error: string, status: number): TokenFailure {
  if (error === "invalid_grant") return { kind, error, status, retryable: false, blame: "user_grant" };
  // A named configuration error wins over the status (oauth4webapi parses error bodies of 4xx only).
  if (CONFIG_ERRORS.has(error) || status === 401) return { kind, error, status, retryable: false, blame: "provider_config" };
  if (TRANSIENT_ERRORS.has(error) || status >= 500 || status === 429) {
    return { kind, error, status, retryable: true, blame: "transient" };
  }
  // An unknown code on a 4xx: not a dead grant (that is only invalid_grant), and retrying won't fix it.
  return { kind, error, status, retryable: false, blame: "provider_config" };
}

function fromStatus(status: number): TokenFailure {
  if (status >= 500 || status === 429 || status === 408) {
    return { kind: "unexpected_status", status, retryable: true, blame: "transient" };
  }
  return { kind: "unexpected_status", status, retryable: false, blame: "provider_config" };
}

/** fetch rejects with a TypeError ("fetch failed", cause = the socket error) or a timeout/abort DOMException. */
function isNetworkFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === "TimeoutError" || err.name === "AbortError") return true;
  // oauth4webapi's own argument errors are TypeErrors too, but carry an ERR_* code.
  const code = (err as { code?: unknown }).code;
  return err instanceof TypeError && !(typeof code === "string" && code.startsWith("ERR_"));
}
