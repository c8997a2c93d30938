/**
 * The one OAuth-settings fixture: a complete `OAuthSettings` with the values a validated profile
 * gets by default (PKCE on, " " between scopes, no extra parameters), on endpoints nobody visits.
 * Tests override only the fields they are about, so a new settings field is added here once.
 */
import type { OAuthSettings } from "../../server/providers/profile.ts";

/** A complete OAuthSettings; `overrides` replaces any field (pass `undefined` to drop an endpoint). */
export function oauthSettings(overrides: Partial<OAuthSettings> = {}): OAuthSettings {
  return {
    authorizationEndpoint: "https://acme.example/authorize",
    tokenEndpoint: "https://acme.example/token",
    clientId: "cid",
    defaultScopes: [],
    authorizeParams: {},
    tokenParams: {},
    clientAuthMethod: "none",
    pkce: true,
    scopeSeparator: " ",
    omitScopeOnExchange: false,
    ...overrides,
  };
}
