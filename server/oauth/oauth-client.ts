/**
 * The OAuth client Nexus uses: one object binding the injected fetch, clock, timeout and the
 * discovery cache to the protocol steps of this folder, so the consent flow, the refresh engine and
 * revocation share one transport and one metadata cache. It stores nothing and logs nothing.
 */
import type { OAuthTokenSet } from "../domain/stored-secret.ts";
import type { ProviderProfile } from "../providers/profile.ts";
import { urlParamValues } from "../providers/url-template.ts";
import { type AuthorizationRequestInput, buildAuthorizationUrl } from "./authorization-url.ts";
import { clientCredentialsGrant } from "./client-credentials-grant.ts";
import { type CodeExchangeInput, type CodeExchangeResult, exchangeAuthorizationCode, validateCallback } from "./code-exchange.ts";
import { createDiscoveryCache, type DiscoveryCacheOptions, ProviderMetadataError } from "./discovery.ts";
import { refreshTokenGrant } from "./refresh-token-grant.ts";
import { createProviderFetch, type FetchFn } from "./request-options.ts";
import { type ResolvedProvider, resolveProvider } from "./resolved-provider.ts";
import { revokeToken } from "./revoke-token.ts";
import type { TokenSetUpdate } from "./token-set.ts";

/** OAuth 2.0 / OIDC client operations against providers. */
export interface OAuthClient {
  /**
   * Resolves a provider's endpoints (discovery included) for a connection: `{param}` placeholders
   * take the profile's operator_params, and only declared url_params from `connectionParams`.
   * @throws ProviderMetadataError("oauth", "missing") for a profile without OAuth settings.
   */
  resolve(
    profile: ProviderProfile,
    clientSecret: string | undefined,
    connectionParams: Readonly<Record<string, string>>,
  ): Promise<ResolvedProvider>;
  /** The authorization URL (PKCE challenge computed from the verifier). */
  authorizationUrl(provider: ResolvedProvider, input: AuthorizationRequestInput): Promise<string>;
  /** Checks the callback's state, issuer and error; see code-exchange.ts. */
  validateCallback(provider: ResolvedProvider, query: URLSearchParams, expectedState: string): URLSearchParams;
  /** Exchanges the code; `nowMs` comes from the client's clock. */
  exchangeCode(provider: ResolvedProvider, input: Omit<CodeExchangeInput, "nowMs">): Promise<CodeExchangeResult>;
  /** Refresh-token grant; returns the raw update (the caller merges). */
  refresh(provider: ResolvedProvider, refreshToken: string, options?: { scopes?: readonly string[] }): Promise<TokenSetUpdate>;
  /** Client-credentials grant. */
  clientCredentials(provider: ResolvedProvider, scopes: readonly string[]): Promise<OAuthTokenSet>;
  /** RFC 7009 revocation. */
  revoke(provider: ResolvedProvider, token: string, tokenTypeHint?: "refresh_token" | "access_token"): Promise<void>;
}

/** Options of `createOAuthClient`. */
export interface OAuthClientOptions {
  /** Clock in epoch milliseconds (token expiry, discovery cache). */
  now: () => number;
  /** Outbound fetch; default `createProviderFetch()` (connect and first-byte timeouts). */
  fetch?: FetchFn;
  /** Timeout of each provider request, milliseconds; default 10 s. */
  timeoutMs?: number;
  /** Discovery cache bounds; see DiscoveryCacheOptions. */
  discovery?: Omit<DiscoveryCacheOptions, "now" | "fetch" | "timeoutMs">;
}

/** Creates the OAuth client. */
export function createOAuthClient(options: OAuthClientOptions): OAuthClient {
  const { now, timeoutMs } = options;
  const fetch = options.fetch ?? createProviderFetch();
  const discovery = createDiscoveryCache({ ...options.discovery, now, fetch, timeoutMs });
  return {
    resolve: async (profile, clientSecret, connectionParams) => {
      const settings = profile.oauth;
      if (settings === undefined) throw new ProviderMetadataError("oauth", "missing");
      const urlParams = urlParamValues(profile, connectionParams);
      return resolveProvider({ settings, clientSecret, urlParams, discovery, fetch, timeoutMs });
    },
    authorizationUrl: buildAuthorizationUrl,
    validateCallback,
    exchangeCode: (provider, input) => exchangeAuthorizationCode(provider, { ...input, nowMs: now() }),
    refresh: (provider, refreshToken, refreshOptions) =>
      refreshTokenGrant(provider, refreshToken, { nowMs: now(), scopes: refreshOptions?.scopes }),
    clientCredentials: (provider, scopes) => clientCredentialsGrant(provider, { nowMs: now(), scopes }),
    revoke: (provider, token, tokenTypeHint) => revokeToken(provider, token, { tokenTypeHint }),
  };
}
