/**
 * PostgreSQL-only tests of the connection event log's cursor: event writers serialise on the
 * event-writer advisory lock, so a reader never sees seq n+1 while seq n may still commit (the
 * outbox problem). One test holds an event writer open by hand and shows a store write waits for
 * it and gets the later seq; the other runs two stores writing concurrently while a reader tails
 * the log by cursor, and checks the reader missed nothing. Needs a server like store.test.ts.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { Client } from "pg";
import { createTestDatabase, type TestDatabase } from "../../../test/support/postgres-test-database.ts";
import { describeWithPostgres } from "../../../test/support/postgres-test-server.ts";
import { eventually, within } from "../../../test/support/wait.ts";
import type { ConnectionEventRecord, Store } from "../store.ts";
import { EVENT_LOCK_KEY } from "./connection-events.ts";
import { createPostgresStore } from "./store.ts";

const MAINTENANCE_URL = process.env.NEXUS_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

await describeWithPostgres(
  "PostgreSQL connection event cursor",
  { maintenanceUrl: MAINTENANCE_URL, isRequired: Boolean(process.env.CI) },
  () => {
    let database: TestDatabase | undefined;
    let stores: Store[] = [];

    before(async () => {
      database = await createTestDatabase(MAINTENANCE_URL);
      stores = await Promise.all([1, 2].map(() => createPostgresStore({ connectionString: database!.url, now: Date.now, poolMax: 4 })));
    });
    after(async () => {
      await Promise.all(stores.map((store) => store.close()));
      await database?.drop();
    });

    it("a store write waits for an open event writer and commits after it, with the higher seq", async () => {
      const [store] = stores;
      assert.ok(store && database);
      await store.ensureTenant({ id: "lock-test" });
      const connection = await store.createConnection({ tenantId: "lock-test", userId: "u", providerName: "p" });
      const cursor = await store.latestConnectionEventSeq(null);
      const holder = new Client({ connectionString: database.url, application_name: "event-writer-by-hand" });
      await holder.connect();
      try {
        // An event writer that took the lock and its seq but has not committed yet.
        await holder.query("begin");
        await holder.query("select pg_advisory_xact_lock($1::bigint)", [EVENT_LOCK_KEY]);
        const inserted = await holder.query<{ seq: string }>(
          `insert into connection_events (event_id, tenant_id, connection_id, type, occurred_at, connection)
         values ('evt_by_hand', 'lock-test', $1, 'updated', 0, '{}'::jsonb) returning seq`,
          [connection.id],
        );
        const heldSeq = Number(inserted.rows[0]?.seq);

        let isDone = false;
        const write = store.updateConnectionStatus("lock-test", connection.id, "pending", "active", null).finally(() => {
          isDone = true;
        });
        // The store's transaction is queued behind the lock (not merely slow).
        await eventually(
          async () => {
            const { rows } = await holder.query<{ n: number }>(
              "select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted and objid = ($1::bigint & 4294967295)::oid",
              [EVENT_LOCK_KEY],
            );
            return rows[0]!.n === 1;
          },
          10_000,
          "the store write waiting on the event-writer lock",
        );
        assert.equal(isDone, false);
        assert.deepEqual(
          await store.listConnectionEvents({ tenantId: "lock-test", afterSeq: cursor, limit: 10 }),
          [],
          "nothing is visible yet",
        );

        await holder.query("commit");
        await within(write, 10_000, "the store write");
        const events = await store.listConnectionEvents({ tenantId: "lock-test", afterSeq: cursor, limit: 10 });
        assert.deepEqual(
          events.map((e) => [e.eventId === "evt_by_hand" ? "by-hand" : "store", e.type]),
          [
            ["by-hand", "updated"],
            ["store", "active"],
          ],
        );
        assert.equal(events[0]!.seq, heldSeq);
        assert.ok(events[1]!.seq > heldSeq, "the later commit has the later seq");
      } finally {
        await holder.query("rollback").catch(() => undefined);
        await holder.end();
      }
    });

    it("a reader tailing by cursor while two stores write concurrently misses no event", async () => {
      const [a, b] = stores;
      assert.ok(a && b);
      const tenantId = "tail-test";
      await a.ensureTenant({ id: tenantId });
      const start = await a.latestConnectionEventSeq(tenantId);
      const connectionsPerStore = 15;
      // Per connection: created, active, revoked.
      const expected = 2 * connectionsPerStore * 3;

      const seen: ConnectionEventRecord[] = [];
      let cursor = start;
      const tail = (async () => {
        while (seen.length < expected) {
          const page = await a.listConnectionEvents({ tenantId, afterSeq: cursor, limit: 7 });
          for (const event of page) {
            seen.push(event);
            cursor = event.seq;
          }
          if (page.length === 0) await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      const writers = [a, b].flatMap((store) =>
        Array.from({ length: connectionsPerStore }, async (_, n) => {
          const c = await store.createConnection({ tenantId, userId: `user-${n}`, providerName: "p" });
          await store.updateConnectionStatus(tenantId, c.id, "pending", "active", null);
          await store.updateConnectionStatus(tenantId, c.id, "active", "revoked", "revoked_by_api");
        }),
      );
      await within(Promise.all(writers), 60_000, "the writers");
      await within(tail, 60_000, "the tailing reader");

      const all = await a.listConnectionEvents({ tenantId, afterSeq: start, limit: 1000 });
      assert.equal(all.length, expected);
      assert.deepEqual(
        seen.map((e) => e.seq),
        all.map((e) => e.seq),
        "the tailing reader saw every event, once, in order",
      );
      for (const id of new Set(all.map((e) => e.connectionId))) {
        assert.deepEqual(
          all.filter((e) => e.connectionId === id).map((e) => e.type),
          ["created", "active", "revoked"],
        );
      }
    });
  },
);
