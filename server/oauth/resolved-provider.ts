/**
 * Resolves what one connection's OAuth steps talk to: the authorization-server metadata (discovered
 * from the issuer, then overridden by the profile's explicit endpoints with `{param}` placeholders
 * filled), the client, its authentication, and the transport options. No request is sent here
 * besides discovery, and nothing is stored.
 */
import type { AuthorizationServer, Client, ClientAuth } from "oauth4webapi";
import type { OAuthSettings } from "../providers/profile.ts";
import { clientAuthentication } from "./client-auth.ts";
import { ProviderMetadataError, type DiscoveryCache } from "./discovery.ts";
import { fillEndpointTemplate } from "./endpoint-template.ts";
import { createRequestOptions, isAllowedEndpointUrl, type FetchFn, type RequestOptions } from "./request-options.ts";

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
  /** The connection's URL params, already validated by the flow. */
  params: Readonly<Record<string, string>>;
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
 * @throws ProviderMetadataError, MissingClientSecretError, MissingEndpointParamError, or the
 *   discovery request's errors (network, oauth4webapi OperationProcessingError).
 */
export async function resolveProvider(input: ResolveProviderInput): Promise<ResolvedProvider> {
  const { settings, params } = input;
  const issuer = settings.issuer !== undefined ? fillEndpointTemplate(settings.issuer, params) : undefined;
  const discovered = issuer !== undefined ? await input.discovery.discover(issuer) : undefined;

  const overrides: Record<string, string> = {};
  for (const [member, field] of OVERRIDABLE) {
    const template = settings[field];
    if (template === undefined) continue;
    const url = fillEndpointTemplate(template, params);
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

  const urls = [as.authorization_endpoint, as.token_endpoint, as.revocation_endpoint, as.jwks_uri, issuer];
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
