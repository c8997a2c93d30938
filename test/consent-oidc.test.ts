/**
 * Consent against a real OpenID Provider (oidc-provider 9), driven over HTTP like a browser: the
 * seed's request-connection → provider login and consent → /oauth/callback → return_url, the stored
 * credential, refresh and revocation at the provider, reconnect, and callbacks whose state can't be
 * trusted (replayed, tampered, expired). Ends with a scan of the server logs for every secret seen.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createOAuthClient } from "../server/oauth/oauth-client.ts";
import { classifyTokenFailure } from "../server/oauth/token-failure.ts";
import { createProviderDirectory } from "../server/providers/provider-directory.ts";
import { getJson, postJson } from "./support/consent-fixtures.ts";
import { type ConsentRig, RETURN_PREFIX, RETURN_URL, startConsentRig } from "./support/consent-rig.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/consent-oidc.test.ts", () => {
  let rig: ConsentRig;
  before(async () => {
    rig = await startConsentRig();
  });
  after(() => rig?.close());

  const callbackUrlOf = (visited: string[]) => visited.find((u) => u.includes("/oauth/callback"));

  describe("successful consent", () => {
    let connectionId: string;
    let callbackUrl: string;

    test("request-connection → login → consent → return_url?status=success; the connection is active", async () => {
      const started = await rig.start("test-idp", { scopes: ["api:read", "openid"] });
      assert.equal(started.status, "pending");
      assert.match(started.connection_id, /^conn_/);
      assert.ok(Number(started.auth_url_expires_at) > Date.now() / 1000);
      const authUrl = new URL(started.authUrl);
      assert.equal(authUrl.origin + authUrl.pathname, `${rig.idp.issuer}/auth`);
      assert.equal(authUrl.searchParams.get("code_challenge_method"), "S256");
      assert.equal(authUrl.searchParams.get("scope"), "openid offline_access api:read", "defaults ∪ requested, deduplicated");
      assert.equal(authUrl.searchParams.get("redirect_uri"), `${rig.server.baseUrl}/oauth/callback`);
      assert.ok(authUrl.searchParams.get("nonce"));
      assert.equal((await getJson(rig.server, `/v1/check-connection/${started.connection_id}`)).body.status, "pending");

      const result = await rig.drive(started.authUrl);
      const landed = new URL(result.url);
      assert.equal(landed.origin + landed.pathname, RETURN_PREFIX);
      assert.equal(landed.searchParams.get("status"), "success");
      assert.equal(landed.searchParams.get("connection_id"), started.connection_id);
      assert.equal(landed.searchParams.get("tab"), "1", "the return_url's own query is kept");

      connectionId = started.connection_id;
      callbackUrl = callbackUrlOf(result.visited) ?? assert.fail("the callback was visited");
      assert.equal((await getJson(rig.server, `/v1/check-connection/${connectionId}`)).body.status, "active");
    });

    test("the stored credential opens and holds access, refresh and id tokens", async () => {
      const tokens = await rig.openCredential(rig.server, connectionId);
      assert.ok(tokens.accessToken.length > 10);
      assert.equal(tokens.tokenType, "Bearer");
      assert.ok(tokens.refreshToken, "offline_access + prompt=consent yields a refresh token");
      assert.ok(tokens.idToken?.split(".").length === 3);
      assert.ok((tokens.expiresAtSeconds ?? 0) > Date.now() / 1000);
      const connection = await rig.server.app.store.getConnection("default", connectionId);
      assert.equal(connection.credentialVersion, 1);
      assert.deepEqual(connection.scopes, ["openid", "offline_access", "api:read"]);
    });

    test("GET /v1/token serves the access token and never the refresh or id token", async () => {
      const tokens = await rig.openCredential(rig.server, connectionId);
      const res = await fetch(`${rig.server.baseUrl}/v1/token/${connectionId}`, { headers: rig.server.auth() });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      assert.ok(text.includes(tokens.accessToken));
      assert.ok(!text.includes(tokens.refreshToken ?? "\0") && !text.includes(tokens.idToken ?? "\0"));
    });

    test("replaying the callback (same state) shows the error page and changes nothing", async () => {
      const res = await fetch(callbackUrl, { redirect: "manual" });
      assert.equal(res.status, 400);
      assert.equal(res.headers.get("location"), null);
      assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
      assert.equal(
        res.headers.get("content-security-policy"),
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
      );
      assert.equal(res.headers.get("x-frame-options"), "DENY");
      assert.equal(res.headers.get("referrer-policy"), "no-referrer");
      assert.equal(res.headers.get("cache-control"), "no-store");
      const body = await res.text();
      assert.ok(!body.includes(new URL(callbackUrl).searchParams.get("code") ?? "\0"), "the page repeats nothing from the URL");
      assert.equal((await getJson(rig.server, `/v1/check-connection/${connectionId}`)).body.status, "active");
    });

    test("the stored refresh token works at the provider, and after revocation it is a dead grant", async () => {
      const tokens = await rig.openCredential(rig.server, connectionId);
      const directory = createProviderDirectory({ store: rig.server.app.store, vault: rig.server.app.vault });
      const { provider: stored, clientSecret } = await directory.getWithSecret("test-idp");
      const oauth = createOAuthClient({ now: Date.now });
      const provider = await oauth.resolve(stored.profile, clientSecret, {});
      const update = await oauth.refresh(provider, tokens.refreshToken!);
      for (const value of [update.accessToken, update.refreshToken, update.idToken]) if (value) rig.secrets.add(value);
      assert.notEqual(update.accessToken, tokens.accessToken);
      const current = update.refreshToken ?? tokens.refreshToken!;
      await oauth.revoke(provider, current, "refresh_token");
      const failure = classifyTokenFailure(
        await oauth.refresh(provider, current).then(
          () => assert.fail("refresh after revocation"),
          (e: unknown) => e,
        ),
      );
      assert.equal(failure.error, "invalid_grant");
      assert.equal(failure.blame, "user_grant");
    });

    test("reconnect keeps the connection_id and replaces the credential with the next version", async () => {
      const before = await rig.openCredential(rig.server, connectionId);
      const answer = await postJson<{ authUrl: string; connection_id: string }>(rig.server, `/v1/connections/${connectionId}:reconnect`, {
        return_url: RETURN_URL,
      });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.body.connection_id, connectionId);
      await rig.remember(rig.server, answer.body.authUrl);
      assert.equal((await getJson(rig.server, `/v1/check-connection/${connectionId}`)).body.status, "pending");
      const result = await rig.drive(answer.body.authUrl);
      assert.equal(new URL(result.url).searchParams.get("status"), "success");
      const connection = await rig.server.app.store.getConnection("default", connectionId);
      assert.equal(connection.status, "active");
      assert.equal(connection.credentialVersion, 2);
      assert.notEqual((await rig.openCredential(rig.server, connectionId)).accessToken, before.accessToken);
    });
  });

  describe("callbacks without a trustworthy state", () => {
    test("missing, malformed and tampered states get the error page, never a redirect", async () => {
      const started = await rig.start("test-idp");
      const state = new URL(started.authUrl).searchParams.get("state") ?? "";
      const tampered = `${state.slice(0, -2)}${state.endsWith("AA") ? "BB" : "AA"}`;
      for (const query of ["code=abc", `code=abc&state=${tampered}`, "state=%3Cscript%3E&code=x", ""]) {
        const res = await fetch(`${rig.server.baseUrl}/oauth/callback?${query}`, { redirect: "manual" });
        assert.equal(res.status, 400, query);
        assert.equal(res.headers.get("location"), null);
        assert.ok(!(await res.text()).includes("<script>"));
      }
      assert.equal((await getJson(rig.server, `/v1/check-connection/${started.connection_id}`)).body.status, "pending");
      const post = await fetch(`${rig.server.baseUrl}/oauth/callback?code=x&state=${state}`, { method: "POST" });
      assert.equal(post.status, 405);
    });

    test("an expired state (clock moved past 10 minutes) is refused and the connection stays pending", async () => {
      const started = await rig.start("test-idp", {}, rig.clockServer);
      rig.clock.ms += 11 * 60 * 1000;
      const result = await rig.drive(started.authUrl);
      assert.equal(result.status, 400);
      assert.ok(result.url.startsWith(`${rig.clockServer.baseUrl}/oauth/callback`));
      assert.equal((await getJson(rig.clockServer, `/v1/check-connection/${started.connection_id}`)).body.status, "pending");
    });
  });

  test("no code, state, verifier, nonce, token or client secret appears in the server logs", () => {
    assert.ok(rig.secrets.size > 12, `collected ${rig.secrets.size} secret values`);
    rig.assertNoSecretsLogged();
  });
});
