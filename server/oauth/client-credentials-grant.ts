/**
 * The client-credentials grant (RFC 6749 §4.4) for `oauth2_client_credentials` providers: the
 * client's own token, no user and no refresh token. Failures are sorted by token-failure.ts.
 */
import { clientCredentialsGrantRequest, processClientCredentialsResponse } from "oauth4webapi";
import type { OAuthTokenSet } from "../domain/stored-secret.ts";
import type { ResolvedProvider } from "./resolved-provider.ts";
import { tokenSetFromResponse } from "./token-set.ts";

/**
 * Requests a token for the client itself, with `scopes` when any.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 */
export async function clientCredentialsGrant(
  provider: ResolvedProvider,
  options: { nowMs: number; scopes: readonly string[] },
): Promise<OAuthTokenSet> {
  const { settings } = provider;
  const parameters = new URLSearchParams(settings.tokenParams);
  if (options.scopes.length > 0) parameters.set("scope", options.scopes.join(settings.scopeSeparator));
  const response = await clientCredentialsGrantRequest(provider.as, provider.client, provider.clientAuth, parameters, {
    ...provider.http,
    headers: settings.tokenRequestHeaders,
  });
  const result = await processClientCredentialsResponse(provider.as, provider.client, response);
  return tokenSetFromResponse(result, settings, options.nowMs);
}
