import assert from "node:assert/strict";
import { test } from "node:test";
import { oauthSettings } from "../../test/support/oauth-settings.ts";
import type { OAuthSettings } from "../providers/profile.ts";
import { clientCredentialsGrant } from "./client-credentials-grant.ts";
import { exchangeAuthorizationCode, validateCallback } from "./code-exchange.ts";
import { createDiscoveryCache } from "./discovery.ts";
import { refreshTokenGrant } from "./refresh-token-grant.ts";
import type { FetchFn } from "./request-options.ts";
import { resolveProvider } from "./resolved-provider.ts";
import { revokeToken } from "./revoke-token.ts";

const NOW_MS = 1_700_000_000_000;

const base: OAuthSettings = oauthSettings({
  authorizationEndpoint: "https://{shop}.example.com/authorize",
  tokenEndpoint: "https://{shop}.example.com/token",
  revocationEndpoint: "https://{shop}.example.com/revoke",
  clientId: "client id",
  tokenParams: { audience: "api" },
  clientAuthMethod: "client_secret_basic",
  extraTokenFields: ["instance_url", "refresh_token"],
  tokenRequestHeaders: { "x-provider-quirk": "1" },
});

/** A fake token endpoint: records each request and answers with `reply`. */
function fakeEndpoint(reply: (form: URLSearchParams) => { status?: number; body: unknown }) {
  const requests: { url: string; headers: Headers; form: URLSearchParams }[] = [];
  const fetch: FetchFn = async (url, init) => {
    const form = new URLSearchParams(init.body as URLSearchParams);
    requests.push({ url, headers: new Headers(init.headers), form });
    const { status = 200, body } = reply(form);
    return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  };
  return { requests, fetch };
}

const resolve = (fetch: FetchFn, settings: Partial<OAuthSettings> = {}) =>
  resolveProvider({
    settings: { ...base, ...settings },
    clientSecret: "s3cret:+",
    urlParams: { operator: {}, connection: { shop: "acme" } },
    discovery: createDiscoveryCache({ now: () => NOW_MS, fetch }),
    fetch,
  });

test("client credentials: basic auth, token params, quirk headers, scope; maps the response", async () => {
  const endpoint = fakeEndpoint(() => ({
    body: { access_token: "at-1", token_type: "bearer", expires_in: 3600, instance_url: "https://acme.my.example", refresh_token: "leak?" },
  }));
  const tokens = await clientCredentialsGrant(await resolve(endpoint.fetch), { nowMs: NOW_MS, scopes: ["a", "b"] });
  const [request] = endpoint.requests;
  assert.equal(request?.url, "https://acme.example.com/token");
  // RFC 6749 §2.3.1: form-urlencoded client id and secret inside Basic.
  assert.equal(request?.headers.get("authorization"), `Basic ${btoa("client+id:s3cret%3A%2B")}`);
  assert.equal(request?.headers.get("x-provider-quirk"), "1");
  assert.equal(request?.headers.get("accept"), "application/json");
  assert.equal(request?.form.get("grant_type"), "client_credentials");
  assert.equal(request?.form.get("audience"), "api");
  assert.equal(request?.form.get("scope"), "a b");
  assert.equal(request?.form.has("client_secret"), false);
  assert.deepEqual(tokens, {
    kind: "oauth2",
    accessToken: "at-1",
    tokenType: "Bearer",
    refreshToken: "leak?",
    expiresAtSeconds: NOW_MS / 1000 + 3600,
    extra: { instance_url: "https://acme.my.example" },
  });
});

test("client_secret_post puts the credentials in the body", async () => {
  const endpoint = fakeEndpoint(() => ({ body: { access_token: "at", token_type: "Bearer" } }));
  await clientCredentialsGrant(await resolve(endpoint.fetch, { clientAuthMethod: "client_secret_post" }), { nowMs: NOW_MS, scopes: [] });
  const [request] = endpoint.requests;
  assert.equal(request?.headers.get("authorization"), null);
  assert.equal(request?.form.get("client_id"), "client id");
  assert.equal(request?.form.get("client_secret"), "s3cret:+");
  assert.equal(request?.form.has("scope"), false);
});

test("refresh: sends the refresh token, scope only when asked; a response without refresh_token leaves it out", async () => {
  const endpoint = fakeEndpoint(() => ({ body: { access_token: "at-2", token_type: "Bearer", expires_in: 60 } }));
  const provider = await resolve(endpoint.fetch);
  const update = await refreshTokenGrant(provider, "rt-1", { nowMs: NOW_MS });
  assert.equal(endpoint.requests[0]?.form.get("grant_type"), "refresh_token");
  assert.equal(endpoint.requests[0]?.form.get("refresh_token"), "rt-1");
  assert.equal(endpoint.requests[0]?.form.has("scope"), false);
  // Google doesn't rotate: the caller must keep the stored refresh token (merge, not replace).
  assert.deepEqual(update, { accessToken: "at-2", tokenType: "Bearer", expiresAtSeconds: NOW_MS / 1000 + 60 });
  await refreshTokenGrant(provider, "rt-1", { nowMs: NOW_MS, scopes: ["x"] });
  assert.equal(endpoint.requests[1]?.form.get("scope"), "x");
});

test("code exchange: redirect_uri, verifier, scope (unless omitted), and the callback's state is checked", async () => {
  const endpoint = fakeEndpoint(() => ({ body: { access_token: "at-3", token_type: "bearer", scope: "read" } }));
  const provider = await resolve(endpoint.fetch);
  assert.throws(() => validateCallback(provider, new URLSearchParams("code=c&state=other"), "expected"), /state/);
  const params = validateCallback(provider, new URLSearchParams("code=c-1&state=expected&iss=ignored-without-issuer"), "expected");
  const { tokens } = await exchangeAuthorizationCode(provider, {
    callbackParams: params,
    redirectUri: "https://nexus.example/oauth/callback",
    codeVerifier: "v".repeat(43),
    scopes: ["read", "write"],
    nowMs: NOW_MS,
  });
  const form = endpoint.requests[0]?.form;
  assert.equal(form?.get("grant_type"), "authorization_code");
  assert.equal(form?.get("code"), "c-1");
  assert.equal(form?.get("redirect_uri"), "https://nexus.example/oauth/callback");
  assert.equal(form?.get("code_verifier"), "v".repeat(43));
  assert.equal(form?.get("scope"), "read write");
  assert.equal(tokens.scope, "read");

  // Salesforce rejects `scope` on the exchange.
  const salesforce = await resolve(endpoint.fetch, { omitScopeOnExchange: true, pkce: false });
  await exchangeAuthorizationCode(salesforce, {
    callbackParams: validateCallback(salesforce, new URLSearchParams("code=c-2&state=s"), "s"),
    redirectUri: "https://nexus.example/oauth/callback",
    scopes: ["api"],
    nowMs: NOW_MS,
  });
  assert.equal(endpoint.requests[1]?.form.has("scope"), false);
  assert.equal(endpoint.requests[1]?.form.has("code_verifier"), false);
});

test("revocation (RFC 7009): token and hint at the revocation endpoint; none configured is an error", async () => {
  const endpoint = fakeEndpoint(() => ({ body: {} }));
  await revokeToken(await resolve(endpoint.fetch), "rt-9", { tokenTypeHint: "refresh_token" });
  assert.equal(endpoint.requests[0]?.url, "https://acme.example.com/revoke");
  assert.equal(endpoint.requests[0]?.form.get("token"), "rt-9");
  assert.equal(endpoint.requests[0]?.form.get("token_type_hint"), "refresh_token");
  const without = await resolve(endpoint.fetch, { revocationEndpoint: undefined });
  await assert.rejects(revokeToken(without, "rt"), /revocation_endpoint/);

  const refusing = fakeEndpoint(() => ({ status: 400, body: { error: "unsupported_token_type" } }));
  await assert.rejects(revokeToken(await resolve(refusing.fetch), "rt"), /error/);
});
