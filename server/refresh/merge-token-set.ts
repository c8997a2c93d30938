/**
 * Merges a refresh response into the stored token set. Refresh must merge, not replace (the Go
 * version replaced the blob and lost the refresh token): a member the provider leaves out keeps
 * its stored value. Google does not rotate refresh tokens, so its responses omit refresh_token;
 * Xero and QuickBooks rotate on every use, so the new one must replace the old one.
 */
import type { OAuthTokenSet } from "../domain/stored-secret.ts";
import type { TokenSetUpdate } from "../oauth/token-set.ts";

/** The merged set, and whether the provider rotated the refresh token. */
export interface MergedTokenSet {
  tokens: OAuthTokenSet;
  isRotated: boolean;
}

/**
 * Applies `update` on top of `stored`: access token, token type and expiry always come from the
 * response (an absent expires_in means the provider did not say, never "as before"); refresh token,
 * id_token and scope are kept when absent; `extra` fields are merged, the response winning.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6 (the server MAY issue a new refresh token)
 */
export function mergeTokenSet(stored: OAuthTokenSet, update: TokenSetUpdate): MergedTokenSet {
  const tokens: OAuthTokenSet = { kind: "oauth2", accessToken: update.accessToken, tokenType: update.tokenType };
  const refreshToken = update.refreshToken ?? stored.refreshToken;
  if (refreshToken !== undefined) tokens.refreshToken = refreshToken;
  const idToken = update.idToken ?? stored.idToken;
  if (idToken !== undefined) tokens.idToken = idToken;
  const scope = update.scope ?? stored.scope;
  if (scope !== undefined) tokens.scope = scope;
  if (update.expiresAtSeconds !== undefined) tokens.expiresAtSeconds = update.expiresAtSeconds;
  const extra = { ...stored.extra, ...update.extra };
  if (Object.keys(extra).length > 0) tokens.extra = extra;
  const isRotated = update.refreshToken !== undefined && update.refreshToken !== stored.refreshToken;
  return { tokens, isRotated };
}
