import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { None } from "oauth4webapi";
import { oauthSettings } from "../../test/support/oauth-settings.ts";
import type { OAuthSettings } from "../providers/profile.ts";
import { buildAuthorizationUrl, mergeScopes } from "./authorization-url.ts";
import { createRequestOptions } from "./request-options.ts";
import type { ResolvedProvider } from "./resolved-provider.ts";

const settings: OAuthSettings = oauthSettings({
  authorizationEndpoint: "https://id.example.com/authorize?audience=api",
  tokenEndpoint: "https://id.example.com/token",
  clientId: "client-1",
  defaultScopes: ["openid"],
  // A profile can add parameters but not replace the ones security depends on.
  authorizeParams: { access_type: "offline", prompt: "consent", state: "attacker", redirect_uri: "https://evil.example/" },
});

const provider = (overrides: Partial<OAuthSettings> = {}): ResolvedProvider => ({
  settings: { ...settings, ...overrides },
  as: { issuer: "https://id.example.com", authorization_endpoint: overrides.authorizationEndpoint ?? settings.authorizationEndpoint },
  client: { client_id: "client-1" },
  clientAuth: None(),
  hasIssuer: true,
  http: createRequestOptions({ urls: [] }),
});

test("builds an RFC 6749 §4.1.1 request with PKCE S256 and nonce; reserved params can't be overridden", async () => {
  const verifier = "v".repeat(43);
  const url = new URL(
    await buildAuthorizationUrl(provider(), {
      redirectUri: "https://nexus.example/oauth/callback",
      state: "s".repeat(43),
      scopes: ["openid", "email"],
      codeVerifier: verifier,
      nonce: "n-1",
    }),
  );
  const q = url.searchParams;
  assert.equal(url.origin + url.pathname, "https://id.example.com/authorize");
  assert.equal(q.get("audience"), "api", "the endpoint's own query is kept");
  assert.equal(q.get("access_type"), "offline");
  assert.equal(q.get("response_type"), "code");
  assert.equal(q.get("client_id"), "client-1");
  assert.equal(q.get("redirect_uri"), "https://nexus.example/oauth/callback");
  assert.equal(q.get("state"), "s".repeat(43));
  assert.deepEqual(q.getAll("state").length, 1);
  assert.equal(q.get("scope"), "openid email");
  assert.equal(q.get("code_challenge"), createHash("sha256").update(verifier).digest("base64url"));
  assert.equal(q.get("code_challenge_method"), "S256");
  assert.equal(q.get("nonce"), "n-1");
});

test("without PKCE or nonce those parameters are absent; the scope separator is the profile's", async () => {
  const url = new URL(
    await buildAuthorizationUrl(provider({ scopeSeparator: "," }), {
      redirectUri: "https://nexus.example/cb",
      state: "s",
      scopes: ["repo", "gist"],
    }),
  );
  assert.equal(url.searchParams.get("scope"), "repo,gist");
  for (const name of ["code_challenge", "code_challenge_method", "nonce"]) assert.equal(url.searchParams.has(name), false, name);
});

test("scopes: provider defaults first, then requested, duplicates dropped", () => {
  assert.deepEqual(mergeScopes(["openid", "email"], ["email", "calendar", "openid", "drive"]), ["openid", "email", "calendar", "drive"]);
  assert.deepEqual(mergeScopes([], []), []);
});
