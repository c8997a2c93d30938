/**
 * The authorization-code grant's two halves after the browser returns: checking the authorization
 * response (state, RFC 9207 `iss`, `error`) and exchanging the code (RFC 6749 §4.1.3) with PKCE and
 * the OIDC nonce. Both run through oauth4webapi; nothing here stores or logs the code or tokens.
 */
import {
  authorizationCodeGrantRequest,
  nopkce,
  processAuthorizationCodeResponse,
  type TokenEndpointResponse,
  validateAuthResponse,
} from "oauth4webapi";
import type { OAuthTokenSet } from "../domain/stored-secret.ts";
import { processWithIdTokenCheck } from "./id-token-check.ts";
import type { ResolvedProvider } from "./resolved-provider.ts";
import { tokenSetFromResponse } from "./token-set.ts";

/**
 * Checks the callback's query against the expected state and the pinned issuer.
 * @returns the parameters to pass to `exchangeAuthorizationCode`.
 * @throws oauth4webapi AuthorizationResponseError when the provider returned `error` (its `error`
 *   member is the RFC 6749 §4.1.2.1 code), OperationProcessingError on a state or `iss` mismatch.
 * @see https://www.rfc-editor.org/rfc/rfc9207 (issuer identification)
 */
export function validateCallback(provider: ResolvedProvider, query: URLSearchParams, expectedState: string): URLSearchParams {
  const params = new URLSearchParams(query);
  // Without a configured issuer there is nothing to compare `iss` with (see ResolvedProvider.hasIssuer).
  if (!provider.hasIssuer) params.delete("iss");
  return validateAuthResponse(provider.as, provider.client, params, expectedState);
}

/** What the code exchange needs back from the authorization request. */
export interface CodeExchangeInput {
  /** The result of `validateCallback`. */
  callbackParams: URLSearchParams;
  /** Exactly the redirect_uri of the authorization request (RFC 6749 §4.1.3). */
  redirectUri: string;
  /** The PKCE verifier, when the profile uses PKCE. */
  codeVerifier?: string;
  /** The nonce sent, when an id_token is expected: it must come back in the id_token. */
  nonce?: string;
  /** Scopes requested; sent as `scope` unless the profile omits it (Salesforce rejects it). */
  scopes: readonly string[];
  nowMs: number;
}

/** The tokens to store, and the validated response they came from (for the profile's connection extras). */
export interface CodeExchangeResult {
  tokens: OAuthTokenSet;
  /** The parsed token response; holds the tokens too: never log or store it. */
  response: Readonly<TokenEndpointResponse>;
}

/**
 * Exchanges the authorization code for tokens.
 * @throws IdTokenValidationError for a bad id_token, otherwise what token-failure.ts classifies.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3
 * @see https://openid.net/specs/openid-connect-core-1_0.html#TokenResponseValidation
 */
export async function exchangeAuthorizationCode(provider: ResolvedProvider, input: CodeExchangeInput): Promise<CodeExchangeResult> {
  const { settings } = provider;
  const additionalParameters = new URLSearchParams(settings.tokenParams);
  // Microsoft v2 wants the scope repeated on the exchange; Salesforce rejects it (omitScopeOnExchange).
  if (!settings.omitScopeOnExchange && input.scopes.length > 0) {
    additionalParameters.set("scope", input.scopes.join(settings.scopeSeparator));
  }
  const response = await authorizationCodeGrantRequest(
    provider.as,
    provider.client,
    provider.clientAuth,
    input.callbackParams,
    input.redirectUri,
    input.codeVerifier ?? nopkce,
    { ...provider.http, additionalParameters, headers: settings.tokenRequestHeaders },
  );
  const expectsIdToken = provider.hasIssuer && input.nonce !== undefined;
  const result = await processWithIdTokenCheck(provider, response, () =>
    processAuthorizationCodeResponse(
      provider.as,
      provider.client,
      response,
      expectsIdToken ? { expectedNonce: input.nonce, requireIdToken: true } : undefined,
    ),
  );
  return { tokens: tokenSetFromResponse(result, settings, input.nowMs), response: result };
}
