/**
 * Account identity, connection extras, labels and reuse_existing, against a real OpenID Provider
 * (oidc-provider 9) driven like a browser: the account comes from the verified id_token, else the
 * userinfo endpoint, else the profile's account_lookup against a local upstream; a failing or
 * redirecting lookup never fails the consent; extras land in metadata (never a token); labels are
 * stored, returned and filter ListConnections; reuse_existing ends a consent on the existing
 * connection of the same account.
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { credentialAad, decodeStoredSecret } from "../server/domain/stored-secret.ts";
import type { ProviderProfileInput } from "../server/providers/profile-input.ts";
import { createProviderDirectory } from "../server/providers/provider-directory.ts";
import { driveConsent } from "./support/consent-driver.ts";
import { getJson, postJson, requestConnection } from "./support/consent-fixtures.ts";
import { metricValue } from "./support/metric-value.ts";
import { startOidcProvider, type TestOidcProvider } from "./support/oidc-provider.ts";
import { startServer, type TestServer } from "./support/start-server.ts";

const RETURN_URL = "http://localhost:3000/done";

/** A local upstream: a failing userinfo, a "who am I" endpoint, and one that redirects elsewhere. */
async function startUpstream() {
  const seen: { path: string; authorization: string }[] = [];
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    seen.push({ path, authorization: req.headers.authorization ?? "" });
    if (path === "/user" && (req.headers.authorization ?? "").startsWith("Bearer ")) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ id: 4242, login: "octo", email: "octo@example.com", plan: { name: "pro" } }));
    } else if (path === "/redirect") {
      res.writeHead(302, { location: `http://localhost:${(server.address() as AddressInfo).port}/user` }).end();
    } else {
      res.writeHead(500, { "content-type": "text/plain" }).end("down");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

type Connection = {
  connection_id: string;
  status: string;
  status_reason?: string;
  account?: { id?: string; email?: string; display_name?: string };
  labels?: Record<string, string>;
  metadata?: Record<string, string>;
  reused_connection_id?: string;
};

describe("test/consent-identity.test.ts", () => {
  let server: TestServer;
  let idp: TestOidcProvider;
  let plainIdp: TestOidcProvider;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;

  before(async () => {
    server = await startServer();
    upstream = await startUpstream();
    idp = await startOidcProvider({
      redirectUris: [`${server.baseUrl}/oauth/callback`],
      accountClaims: (id) => ({ email: `${id}@example.com`, name: `${id[0]?.toUpperCase()}${id.slice(1)} Example` }),
      idTokenClaims: true,
    });
    // Scope claims only from userinfo (oidc-provider's default): the id_token holds just `sub`.
    plainIdp = await startOidcProvider({
      redirectUris: [`${server.baseUrl}/oauth/callback`],
      accountClaims: (id) => ({ email: `${id}@example.org`, preferred_username: `${id}-handle` }),
    });
    const directory = createProviderDirectory({ store: server.app.store, vault: server.app.vault });
    const scopes = ["openid", "offline_access", "email", "profile"];
    // Plain OAuth 2.0 (no issuer, no openid scope): no id_token, so userinfo or the lookup must say.
    const plainOAuth = (userinfoEndpoint?: string) => ({
      authorizationEndpoint: `${idp.issuer}/auth`,
      tokenEndpoint: `${idp.issuer}/token`,
      ...(userinfoEndpoint !== undefined && { userinfoEndpoint }),
      clientId: idp.clientId,
      defaultScopes: ["api:read"],
      authorizeParams: { prompt: "consent" },
      clientAuthMethod: "client_secret_basic",
    });
    const profiles: Record<string, Record<string, unknown>> = {
      // The userinfo endpoint is broken on purpose: the account can only come from the id_token.
      "id-token": {
        oauth: {
          issuer: idp.issuer,
          userinfoEndpoint: `${upstream.url}/userinfo`,
          clientId: idp.clientId,
          defaultScopes: scopes,
          authorizeParams: { prompt: "consent" },
          clientAuthMethod: "client_secret_basic",
        },
      },
      userinfo: {
        oauth: {
          issuer: plainIdp.issuer,
          clientId: plainIdp.clientId,
          defaultScopes: scopes,
          authorizeParams: { prompt: "consent" },
          clientAuthMethod: "client_secret_basic",
        },
        connectionExtras: [
          { name: "issuer", callbackParam: "iss" },
          { name: "token_type", tokenPointer: "/token_type" },
          { name: "leak", tokenPointer: "/access_token" },
        ],
      },
      "userinfo-down": { oauth: plainOAuth(`${upstream.url}/userinfo`) },
      whoami: {
        oauth: plainOAuth(`${upstream.url}/userinfo`),
        accountLookup: { url: `${upstream.url}/user`, idPointer: "/id", emailPointer: "/email", displayNamePointer: "/login" },
      },
      "whoami-redirect": {
        oauth: plainOAuth(),
        accountLookup: { url: `${upstream.url}/redirect`, idPointer: "/id" },
      },
    };
    for (const [name, extra] of Object.entries(profiles)) {
      await directory.create(
        { name, displayName: name, authType: "oauth2", strategy: { type: "oauth2" }, ...extra } as unknown as ProviderProfileInput,
        name === "userinfo" ? plainIdp.clientSecret : idp.clientSecret,
      );
    }
  });
  after(async () => {
    await server?.close();
    await idp?.close();
    await plainIdp?.close();
    await upstream?.close();
  });

  /** request-connection, then the browser through login and consent; returns the landing URL and the id. */
  async function consent(provider: string, extra: Record<string, unknown> = {}, login = "alice") {
    const answer = await requestConnection(server, { user_id: "user-1", provider_name: provider, return_url: RETURN_URL, ...extra });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const result = await driveConsent(answer.body.authUrl, { stopAt: RETURN_URL, login });
    return { id: answer.body.connection_id, landed: new URL(result.url) };
  }
  const get = async (id: string) => {
    const answer = await getJson<{ connection: Connection }>(server, `/v1/connections/${id}`);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body.connection;
  };

  test("the account comes from the verified id_token (the broken userinfo is not needed)", async () => {
    const before = upstream.seen.length;
    const { id, landed } = await consent("id-token", { labels: { workspace: "acme", end_user_id: "u-42" } });
    assert.equal(landed.searchParams.get("status"), "success");
    const connection = await get(id);
    assert.equal(connection.status, "active");
    assert.deepEqual(connection.account, { id: "alice", email: "alice@example.com", display_name: "Alice Example" });
    assert.deepEqual(connection.labels, { workspace: "acme", end_user_id: "u-42" });
    assert.equal(upstream.seen.length, before, "no userinfo request when the id_token says");
    const check = await getJson<{ status: string; account: Connection["account"] }>(server, `/v1/check-connection/${id}`);
    assert.deepEqual(check.body, { status: "active", account: connection.account });
    assert.equal(await metricValue(server.app.registry, "nexus_account_lookups_total", { source: "id_token", outcome: "ok" }), 1);
  });

  test("an id_token with only `sub` is completed from the OIDC userinfo endpoint; extras land in metadata", async () => {
    const userinfoOk = () => metricValue(server.app.registry, "nexus_account_lookups_total", { source: "userinfo", outcome: "ok" });
    const before = await userinfoOk();
    const { id, landed } = await consent("userinfo", {}, "bob");
    assert.equal(landed.searchParams.get("status"), "success");
    const connection = await get(id);
    assert.equal(connection.status, "active");
    assert.deepEqual(connection.account, { id: "bob", email: "bob@example.org", display_name: "bob-handle" });
    assert.equal(await userinfoOk(), before + 1);
    // iss from the callback query, token_type from the token response; a pointer at a token picks nothing.
    assert.equal(connection.metadata?.issuer, plainIdp.issuer);
    assert.match(connection.metadata?.token_type ?? "", /^bearer$/i);
    assert.equal(connection.metadata?.leak, undefined);
    assert.deepEqual(Object.keys(connection.metadata ?? {}).sort(), ["issuer", "token_type"]);
  });

  test("a failing userinfo endpoint does not fail the consent: active, account unknown, counted", async () => {
    const failedBefore = await metricValue(server.app.registry, "nexus_account_lookups_total", { source: "userinfo", outcome: "failed" });
    const { id, landed } = await consent("userinfo-down");
    assert.equal(landed.searchParams.get("status"), "success");
    assert.equal(landed.searchParams.get("connection_id"), id);
    const connection = await get(id);
    assert.equal(connection.status, "active");
    assert.equal(connection.account, undefined);
    const failedAfter = await metricValue(server.app.registry, "nexus_account_lookups_total", { source: "userinfo", outcome: "failed" });
    assert.equal(failedAfter, failedBefore + 1);
    assert.match(server.logs(), /account identity not learned from this source/);
  });

  test("account_lookup: a GET with the new access token applied as the strategy says; JSON pointers pick the account", async () => {
    const { id } = await consent("whoami", {}, "carol");
    const connection = await get(id);
    assert.equal(connection.status, "active");
    assert.deepEqual(connection.account, { id: "4242", email: "octo@example.com", display_name: "octo" });
    const record = await server.app.store.getCredential(id);
    assert.ok(record);
    const secret = decodeStoredSecret(server.app.vault.open(record.secret, credentialAad(id, record.version)));
    assert.equal(secret.kind, "oauth2");
    const call = upstream.seen.findLast((r) => r.path === "/user");
    assert.equal(call?.authorization, `Bearer ${secret.accessToken}`);
    assert.ok(!server.logs().includes(secret.accessToken), "the token is never logged");
  });

  test("account_lookup that redirects is not followed and does not fail the consent", async () => {
    const userCalls = upstream.seen.filter((r) => r.path === "/user").length;
    const { id, landed } = await consent("whoami-redirect");
    assert.equal(landed.searchParams.get("status"), "success");
    const connection = await get(id);
    assert.equal(connection.status, "active");
    assert.equal(connection.account, undefined);
    assert.equal(upstream.seen.filter((r) => r.path === "/user").length, userCalls, "the redirect was not followed");
  });

  test("re-consent learns the account again: another login changes it, labels stay", async () => {
    const { id } = await consent("id-token", { user_id: "user-re", labels: { workspace: "re" } }, "hank");
    assert.equal((await get(id)).account?.id, "hank");
    const again = await postJson<{ authUrl: string }>(server, `/v1/connections/${id}:reconnect`, { return_url: RETURN_URL });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    const pending = await get(id);
    assert.equal(pending.status, "pending");
    assert.equal(pending.account?.id, "hank", "the account is kept while re-consent runs");
    const result = await driveConsent(again.body.authUrl, { stopAt: RETURN_URL, login: "ivy" });
    assert.equal(new URL(result.url).searchParams.get("status"), "success");
    const after = await get(id);
    assert.equal(after.status, "active");
    assert.deepEqual(after.account, { id: "ivy", email: "ivy@example.com", display_name: "Ivy Example" });
    assert.deepEqual(after.labels, { workspace: "re" });
  });

  test("reuse_existing: the same user, provider and account ends on the existing connection", async () => {
    const first = await consent("id-token", { user_id: "user-r" }, "dave");
    assert.equal((await get(first.id)).status, "active");

    const again = await consent("id-token", { user_id: "user-r", reuse_existing: true, labels: { try: "2" } }, "dave");
    assert.equal(again.landed.searchParams.get("status"), "success");
    assert.equal(again.landed.searchParams.get("connection_id"), first.id, "the browser is told the connection to use");
    const ended = await get(again.id);
    assert.deepEqual([ended.status, ended.status_reason, ended.reused_connection_id], ["failed", "reused_existing", first.id]);
    assert.equal(ended.account?.id, "dave");
    const check = await getJson<Record<string, unknown>>(server, `/v1/check-connection/${again.id}`);
    assert.equal(check.body.reused_connection_id, first.id);
    assert.equal(await server.app.store.getCredential(again.id), null, "the duplicate's tokens are not kept");
    assert.equal((await get(first.id)).status, "active", "the existing connection is untouched");

    // Another account of the same user is a new connection; so is the same account without reuse_existing.
    const other = await consent("id-token", { user_id: "user-r", reuse_existing: true }, "erin");
    assert.equal(other.landed.searchParams.get("connection_id"), other.id);
    assert.equal((await get(other.id)).status, "active");
    const duplicate = await consent("id-token", { user_id: "user-r" }, "dave");
    assert.equal(duplicate.landed.searchParams.get("connection_id"), duplicate.id);
    assert.equal((await get(duplicate.id)).status, "active");
  });

  test("ListConnections filters by account id and labels (REST query: labels=key=value, repeated)", async () => {
    const list = async (query: string) => {
      const answer = await getJson<{ connections?: Connection[]; code?: string }>(server, `/v1/connections?${query}`);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return (answer.body.connections ?? []).map((c) => c.connection_id);
    };
    const labelled = await consent("id-token", { user_id: "user-l", labels: { workspace: "zeta", end_user_id: "u-7" } }, "frank");
    await consent("id-token", { user_id: "user-l", labels: { workspace: "zeta" } }, "gina");
    assert.deepEqual(await list("account_id=frank"), [labelled.id]);
    assert.equal((await list("labels=workspace%3Dzeta")).length, 2);
    assert.deepEqual(await list("labels=workspace%3Dzeta&labels=end_user_id%3Du-7"), [labelled.id]);
    assert.equal((await list("labels=workspace%3Dzeta&account_id=gina&user_id=user-l&provider_name=id-token&status=active")).length, 1);
    const bad = await getJson<{ code: string; message: string }>(server, "/v1/connections?labels=no-equals-sign");
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /labels\[0\]/);
  });

  test("no token of any consent here, nor the lookup's answer, appears in the logs", async () => {
    const { items } = await server.app.store.listConnections("default", {}, { pageSize: 500 });
    const logs = server.logs();
    assert.ok(logs.includes("account identity not learned"), "the scan reads real logs");
    let scanned = 0;
    for (const connection of items) {
      const record = await server.app.store.getCredential(connection.id);
      if (record === null) continue;
      const secret = decodeStoredSecret(server.app.vault.open(record.secret, credentialAad(connection.id, record.version)));
      if (secret.kind !== "oauth2") continue;
      for (const value of [secret.accessToken, secret.refreshToken, secret.idToken]) {
        if (value === undefined) continue;
        scanned++;
        assert.ok(!logs.includes(value), `a token of ${connection.id} appears in the logs`);
      }
    }
    assert.ok(scanned >= 10, `scanned ${scanned} tokens`);
    assert.ok(!logs.includes("octo@example.com"), "account e-mails are not logged");
  });

  test("a label the rules refuse leaves nothing behind", async () => {
    const count = async () => (await server.app.store.listConnections("default", {}, { pageSize: 500 })).items.length;
    const before = await count();
    const answer = await postJson<{ code: string; message: string }>(server, "/v1/request-connection", {
      user_id: "user-1",
      provider_name: "id-token",
      return_url: RETURN_URL,
      labels: { "Bad Key": "x" },
    });
    assert.equal(answer.status, 400);
    assert.equal(await count(), before);
  });
});
