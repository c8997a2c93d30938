/**
 * Maps a validated token-endpoint response (RFC 6749 §5.1) to the stored OAuthTokenSet. Only
 * standard members and the profile's `extraTokenFields` are kept; a secret-bearing member can never
 * be copied into `extra` (which agents may see).
 */
import type { TokenEndpointResponse } from "oauth4webapi";
import type { OAuthTokenSet } from "../domain/stored-secret.ts";
import type { OAuthSettings } from "../providers/profile.ts";

/**
 * What one token response says, before a caller merges it into a stored set. On refresh the caller
 * must merge, not replace: a provider that doesn't rotate (Google) omits `refreshToken`.
 */
export type TokenSetUpdate = Omit<OAuthTokenSet, "kind">;

/** Members that hold secrets or are mapped explicitly: never copied into `extra`. */
const NOT_EXTRA = new Set(["access_token", "refresh_token", "id_token", "token_type", "expires_in", "scope", "client_secret"]);

/** Maps a token response to an update; `nowMs` anchors `expires_in`. */
export function tokenUpdateFromResponse(response: TokenEndpointResponse, settings: OAuthSettings, nowMs: number): TokenSetUpdate {
  const update: TokenSetUpdate = { accessToken: response.access_token, tokenType: displayTokenType(response.token_type) };
  if (response.refresh_token !== undefined) update.refreshToken = response.refresh_token;
  if (response.id_token !== undefined) update.idToken = response.id_token;
  if (response.scope !== undefined) update.scope = response.scope;
  // expires_in is relative (RFC 6749 §5.1); 0 or absent means the provider did not say.
  if (typeof response.expires_in === "number" && response.expires_in > 0) {
    update.expiresAtSeconds = Math.floor(nowMs / 1000) + Math.floor(response.expires_in);
  }
  const extra: Record<string, string> = {};
  for (const name of settings.extraTokenFields ?? []) {
    const value = response[name];
    if (NOT_EXTRA.has(name) || value === undefined || value === null) continue;
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") extra[name] = String(value);
  }
  if (Object.keys(extra).length > 0) update.extra = extra;
  return update;
}

/** Maps a token response to a complete token set (code exchange, client credentials). */
export function tokenSetFromResponse(response: TokenEndpointResponse, settings: OAuthSettings, nowMs: number): OAuthTokenSet {
  return { kind: "oauth2", ...tokenUpdateFromResponse(response, settings, nowMs) };
}

/** oauth4webapi lower-cases token_type; agents expect the RFC 6750 / RFC 9449 spelling. */
function displayTokenType(tokenType: string): string {
  if (tokenType === "bearer") return "Bearer";
  if (tokenType === "dpop") return "DPoP";
  return tokenType;
}
