/**
 * One clock through the whole app: every time the store writes (key creation and revocation,
 * connection created/updated, audit rows) comes from the clock given to createApp, the same one the
 * refresh engine, sweeper and key checks compare those times with. Runs on SQLite and PostgreSQL.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createKeyProvider, seedConnection } from "./support/access-fixtures.ts";
import { startServer, type TestServer } from "./support/start-server.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/one-clock.test.ts", () => {
  // Years away from the wall clock, so a time taken from Date.now anywhere cannot pass for it.
  const T0_MS = Date.UTC(2031, 4, 6, 7, 8, 9);
  let nowMs = T0_MS;
  let server: TestServer;

  before(async () => {
    server = await startServer({ overrides: { now: () => nowMs } });
  });
  after(() => server?.close());

  async function rest(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const res = await fetch(`${server.baseUrl}${path}`, {
      method,
      headers: { "content-type": "application/json", ...server.auth(server.adminKey) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: await res.json() };
  }

  const iso = (ms: number) => new Date(ms).toISOString().replace(".000Z", "Z");

  test("store timestamps follow the injected clock: keys, connections, audit rows", async () => {
    const created = await rest("POST", "/v1/api-keys", { name: "clocked", role: "admin" });
    assert.equal(created.status, 200, JSON.stringify(created.json));
    assert.equal(created.json.api_key.create_time, iso(T0_MS), "create_time is the app's clock");

    nowMs = T0_MS + 60_000;
    const revoked = await rest("POST", `/v1/api-keys/${created.json.api_key.key_id}:revoke`, {});
    assert.equal(revoked.status, 200);
    assert.equal(revoked.json.api_key.revoke_time, iso(T0_MS + 60_000), "revoke_time is the app's clock");

    nowMs = T0_MS + 120_000;
    await createKeyProvider(server);
    const connectionId = await seedConnection(server, "default", "key-value");
    const connection = await server.app.store.getConnection("default", connectionId);
    assert.equal(connection.createdAtMs, T0_MS + 120_000);
    assert.equal(connection.updatedAtMs, T0_MS + 120_000);
    const shown = await rest("GET", `/v1/connections/${connectionId}`);
    assert.equal(shown.status, 200, JSON.stringify(shown.json));
    assert.equal(shown.json.connection.create_time, iso(T0_MS + 120_000));

    await server.app.audit.flush(); // rows are group-committed: write what is queued before reading
    const audit = await server.app.store.listAuditEvents({ action: "api_key.create" }, {});
    assert.ok(audit.items.length > 0, "the key creation was audited");
    for (const event of audit.items) assert.equal(event.timeMs, T0_MS, "audit time is the app's clock");
  });
});
