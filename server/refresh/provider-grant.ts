/**
 * The one call the refresh engine makes to a provider, as an injectable function: a refresh-token
 * grant (RFC 6749 §6) or, for `oauth2_client_credentials` profiles, a new client-credentials grant
 * (RFC 6749 §4.4). `createProviderGrant` binds it to the OAuth client; tests pass their own.
 * It returns what the provider said (the engine merges) and throws what server/oauth throws.
 */
import { FailedPreconditionError } from "../domain/errors.ts";
import type { OAuthClient } from "../oauth/oauth-client.ts";
import type { TokenSetUpdate } from "../oauth/token-set.ts";
import type { ProviderProfile } from "../providers/profile.ts";

/** One grant request, for one connection. Holds master secrets: never log it. */
export type GrantRequest = {
  profile: ProviderProfile;
  clientSecret: string | undefined;
  /** The connection's URL parameters ({shop}, {subdomain} …). */
  params: Readonly<Record<string, string>>;
  /** The connection's scopes (sent by client credentials only: a refresh keeps the original grant's). */
  scopes: readonly string[];
} & ({ grant: "refresh_token"; refreshToken: string } | { grant: "client_credentials" });

/** Runs a grant against the provider; rejects with server/oauth's errors (see token-failure.ts). */
export type ProviderGrant = (request: GrantRequest) => Promise<TokenSetUpdate>;

/**
 * The production ProviderGrant over the OAuth client (discovery, client authentication, transport).
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 */
export function createProviderGrant(oauth: Pick<OAuthClient, "resolve" | "refresh" | "clientCredentials">): ProviderGrant {
  return async (request) => {
    if (request.profile.oauth === undefined) {
      throw new FailedPreconditionError("provider_misconfigured", request.profile.name, "the profile has no OAuth settings");
    }
    const provider = await oauth.resolve(request.profile, request.clientSecret, request.params);
    if (request.grant === "client_credentials") {
      const { kind: _kind, ...update } = await oauth.clientCredentials(provider, request.scopes);
      return update;
    }
    return oauth.refresh(provider, request.refreshToken);
  };
}
