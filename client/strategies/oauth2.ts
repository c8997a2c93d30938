/**
 * The oauth2 strategy: `Authorization: Bearer <access_token>` (RFC 6750 §2.1). No configuration;
 * it replaces any Authorization header already present.
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.1
 */
import { type AppliedParts, copyParts, credentialField, type StrategyApplier } from "./applier.ts";

/**
 * Applies an oauth2 credential as a bearer token.
 *
 * @example
 * const { headers } = applyOAuth2(parts, credential, env); // authorization: Bearer ya29...
 */
export const applyOAuth2: StrategyApplier = (parts, credential): AppliedParts => {
  const token = credentialField(credential, "oauth2", "access_token");
  const applied = copyParts(parts);
  applied.headers.set("authorization", `Bearer ${token}`);
  return applied;
};
