/**
 * The provider profile: how to obtain a provider's credentials and how agents apply them, as plain
 * domain data. Quirks are fields, not code branches (style.md §1.6). The client secret is not part
 * of the profile: it is sealed separately and never leaves the server.
 */
import type { Strategy } from "../domain/strategy.ts";

/** How a provider's credentials are obtained. */
export type AuthType = "oauth2" | "oauth2_client_credentials" | "api_key" | "basic_auth";

/** Client authentication at the token endpoint (RFC 6749 §2.3.1, OIDC Core §9). */
export type ClientAuthMethod = "client_secret_basic" | "client_secret_post" | "none";

/** OAuth 2.0 / OIDC settings of a profile. */
export interface OAuthSettings {
  /**
   * OIDC issuer; when set, missing endpoints are discovered and the id_token issuer is pinned. Like
   * every endpoint it may contain `{param}` placeholders (see ProviderProfile.urlParams).
   */
  issuer?: string;
  /** May contain `{param}` placeholders, filled from operatorParams and the connection's params. */
  authorizationEndpoint?: string;
  /** May contain `{param}` placeholders. */
  tokenEndpoint?: string;
  revocationEndpoint?: string;
  userinfoEndpoint?: string;
  /** Empty in catalog presets: the operator adds it. */
  clientId: string;
  defaultScopes: string[];
  /** Extra authorization-request parameters (Google: access_type=offline, prompt=consent). */
  authorizeParams: Record<string, string>;
  /** Extra token-request parameters. */
  tokenParams: Record<string, string>;
  clientAuthMethod: ClientAuthMethod;
  /** RFC 7636 S256; true unless the provider rejects it. */
  pkce: boolean;
  /** Between scopes in the authorization request; " " unless the provider wants "," (e.g. some legacy APIs). */
  scopeSeparator: string;
  /** Salesforce rejects `scope` on the code exchange. */
  omitScopeOnExchange: boolean;
  /** Token-response fields (besides the standard ones) to keep and hand to agents, e.g. ["instance_url"]. */
  extraTokenFields?: string[];
  /** Extra headers on token-endpoint requests (GitHub answers form-encoded unless `Accept: application/json`). */
  tokenRequestHeaders?: Record<string, string>;
  /**
   * How long, seconds, the provider still accepts a rotated-out refresh token (Okta's grace period,
   * Auth0's rotation overlap, Xero's 30 minutes). Unset: unknown or none. A retry after a replica
   * died mid-refresh only saves the grant inside this window.
   */
  refreshTokenReuseWindowSeconds?: number;
}

/**
 * A "who am I" request: GET `url` with the credential applied the way the strategy says, then RFC
 * 6901 pointers into the JSON answer. Used when no verified id_token or userinfo endpoint says.
 */
export interface AccountLookup {
  /** May contain `{param}` placeholders, like every endpoint. */
  url: string;
  idPointer: string;
  emailPointer?: string;
  displayNamePointer?: string;
}

/** One provider value kept in the connection's metadata: from the callback query or the token response. */
export type ConnectionExtra = { name: string; callbackParam: string } | { name: string; tokenPointer: string };

/** A provider profile. */
export interface ProviderProfile {
  /** Slug: lower-case letters, digits and '-', 1-64 characters. */
  name: string;
  displayName: string;
  category: string;
  authType: AuthType;
  /** Required for oauth2 and oauth2_client_credentials. */
  oauth?: OAuthSettings;
  /** JSON Schema (object) of what a user types, for api_key and basic_auth. */
  credentialSchema?: Record<string, unknown>;
  strategy: Strategy;
  /**
   * URL parameters each connection sets (RequestConnection params), e.g. ["shop"]. Each may only
   * fill one DNS label under a fixed registrable domain (`https://{shop}.myshopify.com`).
   */
  urlParams: string[];
  /**
   * URL parameters the operator fixes in the provider's config, with their values (Okta domain,
   * Keycloak host and realm, Auth0 tenant). Empty values in catalog presets: the operator adds them.
   * Absent when there are none.
   */
  operatorParams?: Record<string, string>;
  /** URL to check a freshly entered key against before storing it. */
  testEndpoint?: string;
  /** How to learn the connected account when id_token and userinfo do not say. */
  accountLookup?: AccountLookup;
  /** Provider values (realmId, instance_url, team.id) to keep in the connection's metadata. */
  connectionExtras?: ConnectionExtra[];
  /**
   * Base URL of the provider's HTTP API, the proxy's target (/v1/proxy/{connection_id}/{path}); may
   * contain `{param}` placeholders. Absent: the provider cannot be proxied.
   */
  apiBaseUrl?: string;
  /** Per-provider proxy timeouts, ms; an absent field takes the server default. */
  proxyTimeouts?: ProxyTimeouts;
}

/** Timeouts of proxied calls, each in milliseconds (1 to 3 600 000). */
export interface ProxyTimeouts {
  /** To open the connection (TCP and TLS). */
  connectMs?: number;
  /** From sending the request to the response headers. */
  firstByteMs?: number;
  /** Longest pause while the response body streams. */
  idleMs?: number;
  /** The whole call, body included. */
  totalMs?: number;
}

/** A profile as stored, with timestamps and whether a client secret is sealed beside it. */
export interface StoredProvider {
  profile: ProviderProfile;
  hasClientSecret: boolean;
  createdAtMs: number;
  updatedAtMs: number;
}

/** The AAD that binds a sealed client secret to its provider. */
export function clientSecretAad(providerName: string): string {
  return `nexus:provider-client-secret:${providerName}`;
}
