/**
 * Resolves what one connection's OAuth steps talk to: the authorization-server metadata (discovered
 * from the issuer, then overridden by the profile's explicit endpoints with `{param}` placeholders
 * filled), the client, its authentication, and the transport options. Placeholders are filled by
 * providers/url-template.ts, so a connection can only pick a DNS label under the profile's domain,
 * never the host the client secret goes to. No request is sent besides discovery; nothing is stored.
 */
import type { AuthorizationServer, Client, ClientAuth } from "oauth4webapi";
import type { OAuthSettings } from "../providers/profile.ts";
import { fillUrlTemplate, type UrlParamValues } from "../providers/url-template.ts";
import { clientAuthentication } from "./client-auth.ts";
import { type DiscoveryCache, ProviderMetadataError } from "./discovery.ts";
import { createRequestOptions, type FetchFn, isAllowedEndpointUrl, type RequestOptions } from "./request-options.ts";

/** A provider ready for one connection's OAuth requests. Holds the client secret: never log it. */
export interface ResolvedProvider {
  readonly settings: OAuthSettings;
  readonly as: AuthorizationServer;
  readonly client: Client;
  readonly clientAuth: ClientAuth;
  /**
   * True when the profile names an issuer: the callback's `iss` (RFC 9207) and id_tokens are checked
   * against it. Without one there is nothing to pin, so `iss` is ignored and no nonce is sent.
   */
  readonly hasIssuer: boolean;
  /** Transport options (fetch, timeout, loopback-only http) for this provider's endpoints. */
  readonly http: RequestOptions;
}

/** What `resolveProvider` needs. */
export interface ResolveProviderInput {
  settings: OAuthSettings;
  clientSecret: string | undefined;
  /** The operator's and the connection's URL parameter values (url-template.ts `urlParamValues`). */
  urlParams: UrlParamValues;
  discovery: DiscoveryCache;
  fetch?: FetchFn;
  timeoutMs?: number;
}

const OVERRIDABLE = [
  ["authorization_endpoint", "authorizationEndpoint"],
  ["token_endpoint", "tokenEndpoint"],
  ["revocation_endpoint", "revocationEndpoint"],
  ["userinfo_endpoint", "userinfoEndpoint"],
] as const;

/**
 * Resolves a provider for one connection.
 * @throws ProviderMetadataError, MissingClientSecretError, MissingEndpointParamError, UrlTemplateError,
 *   or the discovery request's errors (network, oauth4webapi OperationProcessingError).
 */
export async function resolveProvider(input: ResolveProviderInput): Promise<ResolvedProvider> {
  const { settings, urlParams } = input;
  // The issuer is filled like any endpoint: discovery and id_token pinning follow the same rule.
  const issuer = settings.issuer !== undefined ? fillUrlTemplate(settings.issuer, urlParams) : undefined;
  const discovered = issuer !== undefined ? await input.discovery.discover(issuer) : undefined;

  const overrides: Record<string, string> = {};
  for (const [member, field] of OVERRIDABLE) {
    const template = settings[field];
    if (template === undefined) continue;
    const url = fillUrlTemplate(template, urlParams);
    if (!isAllowedEndpointUrl(url)) throw new ProviderMetadataError(member, "insecure");
    if (discovered?.[member] !== url) overrides[member] = url;
  }
  const tokenEndpoint = overrides.token_endpoint ?? discovered?.token_endpoint;
  if (tokenEndpoint === undefined) throw new ProviderMetadataError("token_endpoint", "missing");

  // Keep the discovered object itself when nothing is overridden: oauth4webapi caches the JWKS per
  // metadata object, so a fresh copy per consent would refetch the keys every time.
  const as: AuthorizationServer =
    discovered !== undefined && Object.keys(overrides).length === 0
      ? discovered
      : // Without an issuer oauth4webapi still needs one; the token endpoint's origin is a stand-in
        // that is never compared (hasIssuer=false drops `iss`, and no id_token is requested).
        { ...(discovered ?? { issuer: new URL(tokenEndpoint).origin }), ...overrides };

  const urls = [as.authorization_endpoint, as.token_endpoint, as.revocation_endpoint, as.userinfo_endpoint, as.jwks_uri, issuer];
  return {
    settings,
    as,
    client: { client_id: settings.clientId },
    clientAuth: clientAuthentication(settings.clientAuthMethod, input.clientSecret),
    hasIssuer: issuer !== undefined,
    http: createRequestOptions({
      urls: urls.filter((u): u is string => typeof u === "string"),
      fetch: input.fetch,
      timeoutMs: input.timeoutMs,
    }),
  };
}
