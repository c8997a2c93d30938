/**
 * The audit log against the real server: consent start/finish/failure of the hosted form (with the
 * browser's address and a request id), credential reads, provider and key changes, ListAuditEvents
 * filters and paging, retention pruning started by the app, the helpers for watch deliveries and
 * background refreshes — and a scan of every audit row and log line for secret values.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createContextValues } from "@connectrpc/connect";
import { auditCredentialDelivered, auditRefreshOutcome } from "../server/audit/audit-actions.ts";
import { kClientAddress, kPrincipal, kRequestId } from "../server/request/context.ts";
import { createKeyProvider, PROVIDER, secretValue } from "./support/access-fixtures.ts";
import { startServer, type TestServer } from "./support/start-server.ts";
import { createTempDataDir } from "./support/temp-data-dir.ts";
import { dropTestStore, openTestStore } from "./support/test-store.ts";
import { eventualValue } from "./support/wait.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/audit.test.ts", () => {
  let server: TestServer;
  let agent: { secret: string; keyId: string };
  const secrets: string[] = [];

  before(async () => {
    server = await startServer();
    agent = await server.createKey({ role: "agent", tenantId: "audited", name: "audited agent" });
    secrets.push(server.adminKey, server.agentKey, agent.secret);
  });
  after(() => server.close());

  async function api(method: string, path: string, key: string, body?: unknown) {
    const res = await fetch(`${server.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    secrets.push(...[...text.matchAll(/"secret":"([^"]+)"/g)].map((m) => m[1]!));
    return { status: res.status, json: JSON.parse(text) as Record<string, any> };
  }

  async function events(query = "") {
    await server.app.audit.flush();
    const res = await api("GET", `/v1/audit-events${query}`, server.adminKey);
    assert.equal(res.status, 200);
    return (res.json.events ?? []) as Record<string, any>[];
  }

  describe("what is audited", () => {
    test("hosted key capture: consent.start, consent.finish (browser address, request id), token.read", async () => {
      await createKeyProvider(server);
      const started = await api("POST", "/v1/request-connection", agent.secret, {
        user_id: "u1",
        provider_name: PROVIDER,
        return_url: "http://localhost:3000/back",
      });
      assert.equal(started.status, 200);
      const id: string = started.json.connection_id;
      const keyValue = secretValue("sk-entered");
      secrets.push(keyValue, new URL(started.json.authUrl).pathname.split("/").at(-1)!);
      const submitted = await fetch(started.json.authUrl, {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: new URL(started.json.authUrl).origin },
        body: `api_key=${keyValue}`,
      });
      assert.equal(submitted.status, 303);
      const read = await api("GET", `/v1/token/${id}`, agent.secret);
      assert.equal(read.json.credentials.api_key, keyValue);

      const rows = await events(`?connection_id=${id}`);
      assert.deepEqual(
        rows.map((r) => `${r.action}:${r.result}`),
        ["token.read:ok", "consent.finish:ok", "consent.start:ok"],
        "newest first",
      );
      const [tokenRead, finish, start] = rows;
      assert.equal(start!.key_id, agent.keyId);
      assert.equal(start!.tenant_id, "audited");
      assert.equal(start!.details.provider, PROVIDER);
      assert.equal(finish!.key_id ?? "", "", "the browser has no key");
      assert.equal(finish!.tenant_id, "audited");
      assert.equal(finish!.client_address, "127.0.0.1");
      assert.match(finish!.request_id, /^[0-9a-f-]{36}$/);
      assert.equal(tokenRead!.key_id, agent.keyId);
      assert.match(tokenRead!.event_id, /^\d+$/);
    });

    test("a cancelled form is consent.fail access_denied", async () => {
      const started = await api("POST", "/v1/request-connection", agent.secret, {
        user_id: "u2",
        provider_name: PROVIDER,
        return_url: "http://localhost:3000/back",
      });
      const cancelled = await fetch(started.json.authUrl, {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: new URL(started.json.authUrl).origin },
        body: "_nexus_action=cancel",
      });
      assert.equal(cancelled.status, 303);
      const rows = await events(`?connection_id=${started.json.connection_id}&action=consent.fail`);
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.result, "access_denied");
    });

    test("provider and key changes, denials and reads of other tenants' connections", async () => {
      const clientSecret = secretValue("client-secret");
      secrets.push(clientSecret);
      const provider = await api("POST", "/v1/providers", server.adminKey, {
        name: "audited-oauth",
        display_name: "Audited",
        category: "test",
        auth_type: "oauth2",
        oauth: {
          authorization_endpoint: "https://idp.example/authorize",
          token_endpoint: "https://idp.example/token",
          client_id: "cid",
          client_secret: clientSecret,
        },
        strategy: { type: "oauth2" },
      });
      assert.equal(provider.status, 200);
      assert.equal((await api("DELETE", "/v1/providers/audited-oauth", server.adminKey)).status, 200);
      const key = await api("POST", "/v1/api-keys", server.adminKey, { name: "rotating", role: "agent", tenant_id: "audited" });
      await api("POST", `/v1/api-keys/${key.json.api_key.key_id}:revoke`, server.adminKey, {});
      assert.equal((await api("GET", "/v1/token/conn_of_someone_else", agent.secret)).status, 404);
      assert.equal((await api("POST", "/v1/providers", agent.secret, {})).status, 403);

      const admin = (await server.app.store.listApiKeys({}, { pageSize: 500 })).items.find((k) => k.name === "NEXUS_ADMIN_API_KEY")!;
      const rows = await events();
      const find = (action: string) => rows.filter((r) => r.action === action);
      assert.equal(find("provider.create")[0]?.details.provider, "audited-oauth");
      assert.equal(find("provider.create")[0]?.key_id, admin.id);
      assert.equal(find("provider.delete")[0]?.details.provider, "audited-oauth");
      assert.equal(find("api_key.create")[0]?.details.created_key_id, key.json.api_key.key_id);
      assert.equal(find("api_key.create")[0]?.tenant_id, "audited");
      assert.equal(find("api_key.revoke")[0]?.details.revoked_key_id, key.json.api_key.key_id);
      const miss = find("token.read").find((r) => r.connection_id === "conn_of_someone_else");
      assert.equal(miss?.result, "not_found");
      const denied = find("request.denied").find((r) => r.key_id === agent.keyId);
      assert.equal(denied?.result, "permission_denied");
      assert.equal(denied?.details.rpc, "nexus.v1.ProviderService/CreateProvider");
    });

    test("watch deliveries and background refreshes are recorded through the exported helpers", async () => {
      const values = createContextValues();
      values.set(kPrincipal, { keyId: agent.keyId, role: "agent", tenantId: "audited", proxyRules: [], canReadTokens: true });
      values.set(kRequestId, "req-watch-1");
      values.set(kClientAddress, "192.0.2.44");
      auditCredentialDelivered(server.app.audit, { values }, { connectionId: "conn_watched", version: 7n });
      auditRefreshOutcome(server.app.audit, {
        tenantId: "audited",
        connectionId: "conn_watched",
        result: "invalid_grant",
        trigger: "scheduled",
        version: 7,
      });
      const rows = await events("?connection_id=conn_watched");
      const deliver = rows.find((r) => r.action === "token.deliver");
      assert.deepEqual(
        { key: deliver?.key_id, request: deliver?.request_id, address: deliver?.client_address, version: deliver?.details.version },
        { key: agent.keyId, request: "req-watch-1", address: "192.0.2.44", version: "7" },
      );
      const refresh = rows.find((r) => r.action === "token.refresh");
      assert.equal(refresh?.result, "invalid_grant");
      assert.equal(refresh?.details.trigger, "scheduled");
    });
  });

  describe("ListAuditEvents", () => {
    test("filters by tenant, action and time, pages newest first, and validates input", async () => {
      await server.app.store.appendAuditEvents(
        Array.from({ length: 5 }, (_, i) => ({
          timeMs: 1_000_000 + i,
          action: "token.read",
          result: "ok",
          tenantId: "paging",
          connectionId: `conn_p${i}`,
        })),
      );
      const first = await api("GET", "/v1/audit-events?tenant_id=paging&page_size=2", server.adminKey);
      assert.deepEqual(
        first.json.events.map((e: { connection_id: string }) => e.connection_id),
        ["conn_p4", "conn_p3"],
      );
      const second = await api(
        "GET",
        `/v1/audit-events?tenant_id=paging&page_size=2&page_token=${first.json.next_page_token}`,
        server.adminKey,
      );
      assert.deepEqual(
        second.json.events.map((e: { connection_id: string }) => e.connection_id),
        ["conn_p2", "conn_p1"],
      );
      const window = await api(
        "GET",
        `/v1/audit-events?tenant_id=paging&start_time=${new Date(1_000_001).toISOString()}&end_time=${new Date(1_000_003).toISOString()}`,
        server.adminKey,
      );
      assert.deepEqual(
        window.json.events.map((e: { connection_id: string }) => e.connection_id),
        ["conn_p2", "conn_p1"],
        "[start, end)",
      );
      for (const bad of [
        "?action=DROP%20TABLE",
        "?connection_id=../x",
        "?page_token=garbage",
        "?page_size=-1",
        "?start_time=-5000-01-01T00:00:00Z",
      ]) {
        assert.equal((await api("GET", `/v1/audit-events${bad}`, server.adminKey)).status, 400, bad);
      }
    });
  });

  test("retention: the app prunes events older than NEXUS_AUDIT_RETENTION_DAYS at start (then hourly)", async () => {
    const dir = createTempDataDir();
    try {
      const store = await openTestStore(dir.path);
      const dayMs = 86_400_000;
      await store.appendAuditEvents([
        { timeMs: Date.now() - 3 * dayMs, action: "token.read", result: "ok", connectionId: "conn_old" },
        { timeMs: Date.now() - dayMs / 2, action: "token.read", result: "ok", connectionId: "conn_recent" },
      ]);
      await store.close();
      const pruning = await startServer({ dataDir: dir.path, env: { NEXUS_AUDIT_RETENTION_DAYS: "1" } });
      try {
        const remaining = await eventualValue(
          async () => (await pruning.app.store.listAuditEvents({ action: "token.read" }, {})).items.map((e) => e.connectionId ?? ""),
          (ids) => !ids.includes("conn_old"),
          10_000,
          "the old audit row pruned",
          20,
        );
        assert.deepEqual(remaining, ["conn_recent"]);
      } finally {
        await pruning.close({ keepDataDir: true });
      }
    } finally {
      dir.remove();
      await dropTestStore(dir.path);
    }
  });

  test("no API key secret, token, entered key, state or client secret appears in any audit row or log line", async () => {
    await server.app.audit.flush();
    const rows = [];
    let pageToken = "";
    do {
      const page = await server.app.store.listAuditEvents({}, { pageSize: 1000, pageToken });
      rows.push(...page.items);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    assert.ok(rows.length > 10, `scanned ${rows.length} rows`);
    assert.ok(secrets.length >= 7, `collected ${secrets.length} secrets`);
    const haystack = JSON.stringify(rows) + server.logs();
    for (const secret of secrets) {
      assert.ok(secret.length >= 16);
      assert.ok(!haystack.includes(secret), `a secret value (${secret.slice(0, 4)}…) was written`);
    }
  });
});
