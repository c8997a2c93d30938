/**
 * The refresh-token grant (RFC 6749 §6) as one small function for the refresh engine. It returns
 * what the provider said; merging into the stored set (keeping a refresh_token the provider did
 * not rotate) and deciding what a failure means are the caller's job (see token-failure.ts).
 */
import { processRefreshTokenResponse, refreshTokenGrantRequest } from "oauth4webapi";
import { processWithIdTokenCheck } from "./id-token-check.ts";
import type { ResolvedProvider } from "./resolved-provider.ts";
import { type TokenSetUpdate, tokenUpdateFromResponse } from "./token-set.ts";

/**
 * Uses a refresh token. `scopes` is sent only when given (omitted, the provider keeps the original
 * grant's scope, RFC 6749 §6).
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 */
export async function refreshTokenGrant(
  provider: ResolvedProvider,
  refreshToken: string,
  options: { nowMs: number; scopes?: readonly string[] },
): Promise<TokenSetUpdate> {
  const { settings } = provider;
  const additionalParameters = new URLSearchParams(settings.tokenParams);
  if (options.scopes !== undefined && options.scopes.length > 0) {
    additionalParameters.set("scope", options.scopes.join(settings.scopeSeparator));
  }
  const response = await refreshTokenGrantRequest(provider.as, provider.client, provider.clientAuth, refreshToken, {
    ...provider.http,
    additionalParameters,
    headers: settings.tokenRequestHeaders,
  });
  const result = await processWithIdTokenCheck(provider, response, () =>
    processRefreshTokenResponse(provider.as, provider.client, response),
  );
  return tokenUpdateFromResponse(result, settings, options.nowMs);
}
