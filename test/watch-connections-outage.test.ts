/**
 * WatchConnections against PostgreSQL trouble (PostgreSQL only): a transaction holding the
 * event-writer advisory lock that dies (its backend terminated) frees the writers behind it, and
 * never blocks credential saves or token reads meanwhile; the server's own backends terminated
 * (57P01, as a restart does) under open streams: the streams are served again (or end Unavailable,
 * never Internal) and the server keeps answering.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code } from "@connectrpc/connect";
import { Client as PgClient } from "pg";
import { EVENT_LOCK_KEY } from "../server/store/postgres/connection-events.ts";
import { boundedClientConfig } from "../server/store/postgres/store-pool.ts";
import { createKeyProvider, PROVIDER } from "./support/access-fixtures.ts";
import { eventClient, recordWatch } from "./support/connection-watchers.ts";
import { startServer, TEST_TENANT, type TestServer } from "./support/start-server.ts";
import { TEST_STORE } from "./support/test-store.ts";
import { eventually, eventualValue, within } from "./support/wait.ts";

describe("test/watch-connections-outage.test.ts", { skip: TEST_STORE !== "postgres" && "PostgreSQL only" }, () => {
  let server: TestServer;
  let outside: PgClient;
  before(async () => {
    server = await startServer({ env: { NEXUS_WATCH_HEARTBEAT_MS: "3600000" } });
    await createKeyProvider(server);
    outside = new PgClient({ connectionString: server.storeEnv.DATABASE_URL });
    await outside.connect();
  });
  after(async () => {
    await outside?.end();
    await server?.close();
  });

  const createPending = async () =>
    (await server.app.store.createConnection({ tenantId: TEST_TENANT, userId: "u", providerName: PROVIDER })).id;

  test("a lock holder that dies frees the event writers; credential saves and token reads never wait for it", async () => {
    const id = await createPending();
    // Another connection: its credential save must not wait for the event lock. (A save of the
    // connection whose status move waits for the lock waits for that move's row lock, up to the
    // statement timeout: inherent to writing the event in the change's transaction.)
    const other = await createPending();
    const watch = recordWatch(eventClient(server.baseUrl, server.agentKey));
    await watch.live();
    const holder = new PgClient({ connectionString: server.storeEnv.DATABASE_URL });
    await holder.connect();
    holder.on("error", () => {});
    try {
      await holder.query("begin");
      await holder.query(`select pg_advisory_xact_lock(${EVENT_LOCK_KEY}::bigint)`);
      const { pid } = (await holder.query("select pg_backend_pid() as pid")).rows[0] as { pid: number };
      const write = server.app.store.updateConnectionStatus(TEST_TENANT, id, "pending", "active", null);
      let isWritten = false;
      void write.then(
        () => (isWritten = true),
        () => {},
      );
      // The writer waits for the lock ...
      await eventually(
        async () => {
          const { rows } = await outside.query("select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted");
          return (rows[0] as { n: number }).n > 0;
        },
        10_000,
        "the writer waiting for the event lock",
      );
      assert.equal(isWritten, false);
      // ... but credential saves and reads do not.
      await within(
        server.app.store.saveCredential(other, 0, { secret: { ciphertext: Buffer.from("x"), keyId: "k" }, expiresAtSeconds: null }),
        1_000,
        "a credential save while the lock is held",
      );
      await within(server.app.store.getCredential(id), 5_000, "a credential read while the lock is held");
      // The holder dies: the lock goes with it.
      await outside.query("select pg_terminate_backend($1)", [pid]);
      await within(write, 10_000, "the writer after the holder died");
      const events = await watch.untilEvents(1);
      assert.equal(events[0]?.connection?.connectionId, id);
    } finally {
      watch.stop();
      await holder.end().catch(() => {});
    }
  });

  test("the server's backends terminated under open streams: served again after, never Internal", async () => {
    const watches = [
      recordWatch(eventClient(server.baseUrl, server.agentKey)),
      recordWatch(eventClient(server.baseUrl, server.agentKey, "connect")),
    ];
    for (const w of watches) await w.live();
    try {
      const url = new URL(server.storeEnv.DATABASE_URL!);
      const db = url.pathname.slice(1);
      await outside.query("select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()", [db]);
      // A change committed right after: every stream still open delivers it; one that ended says why.
      const id = await eventualValue(
        () => createPending().catch(() => undefined),
        (value) => value !== undefined,
        15_000,
        "a write after the restart",
      );
      for (const w of watches) {
        await w.until((x) => x.events().some((e) => e.connection?.connectionId === id), "the event", 15_000).catch(() => {});
      }
      for (const w of watches) {
        const ended = await Promise.race([w.ended, new Promise<"open">((r) => setImmediate(() => r("open")))]);
        // Open and delivering, or ended Unavailable (the client resumes from its cursor): never Internal.
        if (ended === "open") assert.ok(w.events().some((e) => e.connection?.connectionId === id));
        else assert.equal(ended?.code, Code.Unavailable, `ended ${ended?.code}: ${ended?.message}`);
      }
    } finally {
      for (const w of watches) w.stop();
    }
  });
  test("a replica frozen while holding the event lock (idle in its transaction) blocks the writers for a bounded time only", async () => {
    // As a replica's pool connects (same bounds), then it stops between its event insert and COMMIT
    // (process paused, network partition): the session sits idle in its transaction, lock held.
    const frozen = new PgClient(boundedClientConfig({ connectionString: server.storeEnv.DATABASE_URL! }));
    frozen.on("error", () => {});
    await frozen.connect();
    try {
      await frozen.query("begin");
      await frozen.query(`select pg_advisory_xact_lock(${EVENT_LOCK_KEY}::bigint)`);
      const id = await eventualValue(
        () => createPending().catch(() => undefined),
        (value) => value !== undefined,
        20_000,
        "a connection write despite the frozen lock holder",
      );
      assert.ok(id);
    } finally {
      await frozen.end().catch(() => {});
    }
  });
});
