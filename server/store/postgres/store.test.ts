/**
 * Tests of the PostgreSQL Store: the shared conformance suite on one throwaway database per file
 * (tables truncated before every test), plus what only PostgreSQL has — concurrent start-ups under
 * the migration lock, restarts, locale collation and scrubbed server errors. Needs a server at
 * NEXUS_TEST_DATABASE_URL (default: local postgres); without one it skips, or fails when CI is set.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { inspect } from "node:util";
import { Client } from "pg";
import { createTestDatabase, type TestDatabase } from "../../../test/support/postgres-test-database.ts";
import { describeWithPostgres } from "../../../test/support/postgres-test-server.ts";
import { eventually } from "../../../test/support/wait.ts";
import type { ConnectionStatus } from "../../domain/connection-status.ts";
import { AlreadyExistsError, NotFoundError } from "../../domain/errors.ts";
import { describeStoreConformance } from "../conformance.ts";
import { createPostgresStore } from "./store.ts";

const MAINTENANCE_URL = process.env.NEXUS_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const TABLES =
  "tenants, providers, connections, credentials, consent_states, api_keys, audit_events, connection_events, connection_event_retention";
const MIGRATION_COUNT = (
  JSON.parse(readFileSync(join(import.meta.dirname, "migrations", "meta", "_journal.json"), "utf8")) as {
    entries: unknown[];
  }
).entries.length;

/** Runs `use` on one plain connection to `url`. */
async function withClient<T>(url: string, use: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

async function migrationRows(url: string): Promise<number> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ n: number }>("select count(*)::int as n from drizzle.__drizzle_migrations");
    return rows[0]?.n ?? -1;
  });
}

await describeWithPostgres("PostgreSQL store", { maintenanceUrl: MAINTENANCE_URL, isRequired: Boolean(process.env.CI) }, () => {
  let shared: TestDatabase | undefined;
  const scratch: TestDatabase[] = [];

  /** A fresh database for one test, dropped at the end of the file. */
  async function freshDatabase(): Promise<TestDatabase> {
    const db = await createTestDatabase(MAINTENANCE_URL);
    scratch.push(db);
    return db;
  }

  before(async () => {
    shared = await createTestDatabase(MAINTENANCE_URL);
  });
  after(async () => {
    for (const db of [...scratch, ...(shared ? [shared] : [])]) await db.drop();
  });

  describeStoreConformance("postgres", async ({ now }) => {
    if (!shared) throw new Error("the shared test database was not created");
    const url = shared.url;
    // Open (migrating the first time) before truncating, so the tables exist.
    const store = await createPostgresStore({ connectionString: url, now, poolMax: 5 });
    await withClient(url, (client) => client.query(`TRUNCATE ${TABLES} RESTART IDENTITY CASCADE`));
    return { store, cleanup: () => store.close() };
  });

  describe("PostgreSQL only", () => {
    it("three stores starting at once on a fresh database migrate it exactly once", async () => {
      const { url } = await freshDatabase();
      const stores = await Promise.all([1, 2, 3].map(() => createPostgresStore({ connectionString: url, now: Date.now })));
      try {
        assert.equal(await migrationRows(url), MIGRATION_COUNT);
        await stores[0]!.createTenant({ id: "acme" });
        for (const store of stores) assert.equal((await store.getTenant("acme")).id, "acme");
        const locks = await withClient(url, async (client) => {
          const { rows } = await client.query<{ n: number }>(
            "select count(*)::int as n from pg_locks l join pg_database d on d.oid = l.database " +
              "where l.locktype = 'advisory' and d.datname = current_database()",
          );
          return rows[0]?.n;
        });
        assert.equal(locks, 0, "the migration lock is released after start-up");
      } finally {
        await Promise.all(stores.map((store) => store.close()));
      }
    });

    it("start-up waits while another process holds the migration lock", async () => {
      const { url } = await freshDatabase();
      const holder = new Client({ connectionString: url });
      await holder.connect();
      try {
        await holder.query("select pg_advisory_lock(7954884599197829479)");
        let started = false;
        const starting = createPostgresStore({ connectionString: url, now: Date.now }).then((store) => {
          started = true;
          return store;
        });
        // Start-up has reached the lock and waits on it: PostgreSQL shows its request as not granted.
        await eventually(
          async () => {
            const { rows } = await holder.query<{ n: number }>(
              "select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted and database = " +
                "(select oid from pg_database where datname = current_database())",
            );
            return rows[0]?.n === 1;
          },
          30_000,
          "start-up waiting on the migration lock",
          20,
        );
        assert.equal(started, false, "start-up must not migrate while the lock is held");
        await holder.query("select pg_advisory_unlock(7954884599197829479)");
        const store = await starting;
        assert.equal(await migrationRows(url), MIGRATION_COUNT);
        await store.close();
      } finally {
        await holder.end();
      }
    });

    it("restarting applies no migration twice and keeps the data", async () => {
      const { url } = await freshDatabase();
      const first = await createPostgresStore({ connectionString: url, now: Date.now });
      await first.ensureTenant({ id: "acme", displayName: "Acme" });
      const connection = await first.createConnection({ tenantId: "acme", userId: "u", providerName: "google" });
      const bytes = new Uint8Array([0, 1, 2, 253, 254, 255]);
      await first.saveCredential(connection.id, 0, { secret: { ciphertext: bytes, keyId: "k1" }, expiresAtSeconds: 42 });
      const saved = await first.getConnection("acme", connection.id);
      await first.close();
      assert.equal(await migrationRows(url), MIGRATION_COUNT);

      const second = await createPostgresStore({ connectionString: url, now: Date.now });
      try {
        assert.equal(await migrationRows(url), MIGRATION_COUNT);
        assert.equal((await second.getTenant("acme")).displayName, "Acme");
        assert.deepEqual(await second.getConnection("acme", connection.id), saved);
        assert.equal(saved.credentialVersion, 1);
        const credential = await second.getCredential(connection.id);
        assert.deepEqual(credential && [...credential.secret.ciphertext], [...bytes]);
      } finally {
        await second.close();
      }
    });

    it("pages ids that differ only in case in byte order, whatever the database collation", async () => {
      const { url } = await freshDatabase();
      const store = await createPostgresStore({ connectionString: url, now: () => 1_700_000_000_000 });
      try {
        await store.ensureTenant({ id: "acme" });
        const ids = ["conn_a", "conn_B", "conn_c", "conn_D"];
        for (const id of ids) await store.createConnection({ id, tenantId: "acme", userId: "u", providerName: "p" });
        const expected = [...ids].sort().reverse();
        const seen: string[] = [];
        let pageToken = "";
        do {
          const page = await store.listConnections("acme", {}, { pageSize: 1, pageToken });
          seen.push(...page.items.map((c) => c.id));
          pageToken = page.nextPageToken;
        } while (pageToken !== "");
        assert.deepEqual(seen, expected);
        for (const name of ["b", "A", "C"]) await store.createProvider({ name, profile: {} });
        const names = (await store.listProviders({})).items.map((p) => p.name);
        assert.deepEqual(names, ["A", "C", "b"]);
      } finally {
        await store.close();
      }
    });

    it("two stores consuming one consent state: exactly one gets it", async () => {
      const { url } = await freshDatabase();
      const [a, b] = await Promise.all([1, 2].map(() => createPostgresStore({ connectionString: url, now: Date.now })));
      try {
        await a!.ensureTenant({ id: "acme" });
        const connection = await a!.createConnection({ tenantId: "acme", userId: "u", providerName: "p" });
        const stateHash = "9".repeat(64);
        await a!.createConsentState({
          stateHash,
          connectionId: connection.id,
          secrets: null,
          returnUrl: null,
          expiresAtMs: Date.now() + 60_000,
        });
        const results = await Promise.all([a!, b!, a!, b!].map((store) => store.consumeConsentState(stateHash, Date.now())));
        assert.equal(results.filter((r) => r !== null).length, 1);
      } finally {
        await Promise.all([a!.close(), b!.close()]);
      }
    });

    it("errors carry no bound values, not even in their causes", async () => {
      if (!shared) throw new Error("the shared test database was not created");
      const store = await createPostgresStore({ connectionString: shared.url, now: Date.now });
      const marker = "VALUE-THAT-MUST-NOT-LEAK";
      const assertClean = (error: unknown) => {
        const everything = inspect(error, { depth: Infinity, showHidden: true });
        assert.ok(!everything.includes(marker), everything);
      };
      try {
        await store.ensureTenant({ id: "leak-test" });
        // CHECK violation: PostgreSQL's detail would be "Failing row contains (…, <marker>, …)".
        await assert.rejects(
          store.createConnection({
            tenantId: "leak-test",
            userId: marker,
            providerName: "p",
            status: "bogus" as ConnectionStatus,
          }),
          (error: unknown) => {
            assert.ok(error instanceof Error);
            assert.match(error.message, /23514 on connections_status_known/);
            assertClean(error);
            return true;
          },
        );
        // UNIQUE violation: detail would be "Key (secret_hash)=(<marker>) already exists."
        const key = { prefix: "p", secretHash: `hash-${marker}`, name: "k", role: "admin" as const, tenantId: null };
        await store.createApiKey(key);
        await assert.rejects(store.createApiKey(key), (error: unknown) => {
          assert.ok(error instanceof AlreadyExistsError);
          assertClean(error);
          return true;
        });
        // FOREIGN KEY violation: detail would be "Key (connection_id)=(…) is not present".
        await assert.rejects(
          store.createConsentState({
            stateHash: marker,
            connectionId: "conn_missing",
            secrets: { ciphertext: Buffer.from(marker), keyId: "k" },
            returnUrl: null,
            expiresAtMs: 1,
          }),
          (error: unknown) => {
            assert.ok(error instanceof NotFoundError);
            assertClean(error);
            return true;
          },
        );
        // Data exception: PostgreSQL's own message would quote the value ("…: \"1234.56789\"").
        await assert.rejects(store.markApiKeyUsed("key_x", 1234.56789), (error: unknown) => {
          assert.ok(error instanceof Error);
          assert.match(error.message, /22P02/);
          assert.ok(!inspect(error, { depth: Infinity }).includes("1234.56789"), error.message);
          return true;
        });
      } finally {
        await store.close();
      }
    });

    it("start-up against an unreachable server rejects without echoing the password", async () => {
      const url = "postgres://nexus:PASSWORD-MUST-NOT-LEAK@127.0.0.1:1/nexus";
      await assert.rejects(createPostgresStore({ connectionString: url, now: Date.now }), (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.ok(!inspect(error, { depth: Infinity }).includes("PASSWORD-MUST-NOT-LEAK"));
        return true;
      });
    });

    it("refuses methods after close", async () => {
      if (!shared) throw new Error("the shared test database was not created");
      const store = await createPostgresStore({ connectionString: shared.url, now: Date.now });
      await store.close();
      await assert.rejects(store.ping());
      await assert.rejects(store.getTenant("acme"));
    });
  });
});
