/**
 * Verifies id_tokens from the token endpoint beyond oauth4webapi's claim checks: oauth4webapi
 * checks iss, aud, exp, nonce but (OIDC Core §3.1.3.7 allows relying on TLS) not the signature,
 * so the JWS signature is checked here against the issuer's JWKS. Failures become
 * IdTokenValidationError; network errors while fetching the JWKS pass through unchanged.
 */
import {
  JWT_CLAIM_COMPARISON,
  JWT_TIMESTAMP_CHECK,
  KEY_SELECTION,
  OperationProcessingError,
  UnsupportedOperationError,
  validateApplicationLevelSignature,
} from "oauth4webapi";
import type { ResolvedProvider } from "./resolved-provider.ts";

/** The id_token failed validation (issuer, audience, nonce, expiry or signature). Carries no token. */
export class IdTokenValidationError extends Error {
  override readonly name = "IdTokenValidationError";
  constructor(options: { cause: unknown }) {
    super("the id_token failed validation", options);
  }
}

/** Whether an oauth4webapi error is about the id_token (as opposed to the rest of the response). */
export function isIdTokenProblem(err: unknown): boolean {
  if (err instanceof OperationProcessingError) {
    if (err.code === JWT_CLAIM_COMPARISON || err.code === JWT_TIMESTAMP_CHECK || err.code === KEY_SELECTION) return true;
    // Claim presence/type checks and JWT parsing share INVALID_RESPONSE/PARSE_ERROR with body checks;
    // their messages name the JWT (oauth4webapi is pinned, and tests exercise these paths).
    return /JWT|ID Token|"id_token"/.test(err.message);
  }
  return err instanceof UnsupportedOperationError && /JWS|JWE|JWT/.test(err.message);
}

/**
 * Runs `process` (an oauth4webapi process*Response call) and, when the response carried an
 * id_token, verifies its signature. id_token problems are rethrown as IdTokenValidationError.
 * @see https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation
 */
export async function processWithIdTokenCheck<T extends { id_token?: string }>(
  provider: ResolvedProvider,
  response: Response,
  process: () => Promise<T>,
): Promise<T> {
  let result: T;
  try {
    result = await process();
  } catch (err) {
    throw isIdTokenProblem(err) ? new IdTokenValidationError({ cause: err }) : err;
  }
  if (result.id_token !== undefined) {
    try {
      await validateApplicationLevelSignature(provider.as, response, provider.http);
    } catch (err) {
      if (err instanceof OperationProcessingError || err instanceof UnsupportedOperationError) {
        throw new IdTokenValidationError({ cause: err });
      }
      throw err;
    }
  }
  return result;
}
