/**
 * Builds the authorization request URL (RFC 6749 §4.1.1): response_type=code, client_id,
 * redirect_uri, scope, state, PKCE S256 (RFC 7636 §4.3) and the OIDC nonce. The profile's
 * `authorizeParams` are merged first, so they can add (Google's access_type=offline) but never
 * override the parameters the flow's security depends on.
 */
import { calculatePKCECodeChallenge } from "oauth4webapi";
import { ProviderMetadataError } from "./discovery.ts";
import type { ResolvedProvider } from "./resolved-provider.ts";

/** Parameters the flow owns; `authorizeParams` entries with these names are ignored. */
export const RESERVED_AUTHORIZE_PARAMS: ReadonlySet<string> = new Set([
  "response_type",
  "client_id",
  "redirect_uri",
  "scope",
  "state",
  "nonce",
  "code_challenge",
  "code_challenge_method",
]);

/** What one authorization request carries besides the provider's settings. */
export interface AuthorizationRequestInput {
  redirectUri: string;
  /** The raw state from consent-states. */
  state: string;
  scopes: readonly string[];
  /** RFC 7636 code_verifier; its S256 challenge is sent when present. */
  codeVerifier?: string;
  /** OIDC Core §3.1.2.1 nonce, when an id_token is expected. */
  nonce?: string;
}

/** Provider default scopes followed by requested ones, duplicates dropped, first occurrence kept. */
export function mergeScopes(defaults: readonly string[], requested: readonly string[]): string[] {
  return [...new Set([...defaults, ...requested])];
}

/**
 * Returns the URL the user's browser must open.
 * @throws ProviderMetadataError when no authorization endpoint is known.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.1
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.3
 */
export async function buildAuthorizationUrl(provider: ResolvedProvider, input: AuthorizationRequestInput): Promise<string> {
  const endpoint = provider.as.authorization_endpoint;
  if (endpoint === undefined) throw new ProviderMetadataError("authorization_endpoint", "missing");
  const url = new URL(endpoint);
  for (const [name, value] of Object.entries(provider.settings.authorizeParams)) {
    if (!RESERVED_AUTHORIZE_PARAMS.has(name)) url.searchParams.set(name, value);
  }
  url.searchParams.set("response_type", "code");
  url.searchParams.set("client_id", provider.client.client_id);
  url.searchParams.set("redirect_uri", input.redirectUri);
  if (input.scopes.length > 0) url.searchParams.set("scope", input.scopes.join(provider.settings.scopeSeparator));
  url.searchParams.set("state", input.state);
  if (input.codeVerifier !== undefined) {
    url.searchParams.set("code_challenge", await calculatePKCECodeChallenge(input.codeVerifier));
    url.searchParams.set("code_challenge_method", "S256");
  }
  if (input.nonce !== undefined) url.searchParams.set("nonce", input.nonce);
  return url.href;
}
