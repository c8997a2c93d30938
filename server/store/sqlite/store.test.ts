/**
 * Tests of the SQLite Store: the shared conformance suite over a fresh temp data dir per test, plus
 * what only SQLite has — migrations at open, reopening, WAL, file modes, and scrubbed query errors.
 */
import assert from "node:assert/strict";
import { chmodSync, closeSync, existsSync, openSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import Database from "better-sqlite3";
import type { ConnectionStatus } from "../../domain/connection-status.ts";
import { describeStoreConformance } from "../conformance.ts";
import { configureConnection, createSqliteStore, SQLITE_FILE_NAME } from "./store.ts";

describeStoreConformance("sqlite", async ({ now }) => {
  const dataDir = await mkdtemp(join(tmpdir(), "nexus-store-"));
  const store = await createSqliteStore({ dataDir, now });
  return {
    store,
    async cleanup() {
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});

describe("SQLite store", () => {
  let dataDir = "";
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "nexus-store-"));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Reads the database file directly, bypassing the store. */
  function inspect<T>(read: (db: Database.Database) => T): T {
    const db = new Database(join(dataDir, SQLITE_FILE_NAME), { readonly: true });
    try {
      return read(db);
    } finally {
      db.close();
    }
  }

  it("migrates an empty data dir, and reopening keeps the data without migrating again", async () => {
    const nested = join(dataDir, "a", "b");
    const first = await createSqliteStore({ dataDir: nested, now: Date.now });
    await first.createTenant({ id: "acme", displayName: "Acme" });
    await first.close();
    const migrationsAfterFirst = new Database(join(nested, SQLITE_FILE_NAME), { readonly: true });
    const count = () => migrationsAfterFirst.prepare("select count(*) as n from __drizzle_migrations").get();
    // One row per generated migration (meta/_journal.json lists them).
    const migrations = (
      JSON.parse(readFileSync(join(import.meta.dirname, "migrations", "meta", "_journal.json"), "utf8")) as { entries: unknown[] }
    ).entries.length;
    assert.ok(migrations >= 1);
    assert.deepEqual(count(), { n: migrations });

    const second = await createSqliteStore({ dataDir: nested, now: Date.now });
    assert.equal((await second.getTenant("acme")).displayName, "Acme");
    await second.close();
    assert.deepEqual(count(), { n: migrations }, "reopening migrates nothing again");
    migrationsAfterFirst.close();
  });

  it("turns on WAL and keeps it in the file", async () => {
    const store = await createSqliteStore({ dataDir, now: Date.now });
    await store.ensureTenant({ id: "acme" });
    assert.equal(
      inspect((db) => db.pragma("journal_mode", { simple: true })),
      "wal",
    );
    await store.close();
  });

  it("commits with synchronous=FULL on every open, also of a file already in WAL mode", async () => {
    const store = await createSqliteStore({ dataDir, now: Date.now });
    await store.close();
    // A second connection to the WAL file starts at NORMAL (1) in this SQLite build.
    const reopened = new Database(join(dataDir, SQLITE_FILE_NAME));
    try {
      assert.equal(reopened.pragma("synchronous", { simple: true }), 1, "the build's WAL default this guards against");
      configureConnection(reopened, 5000);
      assert.equal(reopened.pragma("synchronous", { simple: true }), 2);
      assert.equal(reopened.pragma("journal_mode", { simple: true }), "wal");
    } finally {
      reopened.close();
    }
  });

  it("creates the database owner-only (0600) in an owner-only data dir", async () => {
    const fresh = join(dataDir, "fresh");
    const store = await createSqliteStore({ dataDir: fresh, now: Date.now });
    await store.ensureTenant({ id: "acme" });
    const file = join(fresh, SQLITE_FILE_NAME);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(fresh).mode & 0o777, 0o700);
    // SQLite copies the database file's mode to its side files.
    for (const side of [`${file}-wal`, `${file}-shm`]) {
      if (existsSync(side)) assert.equal(statSync(side).mode & 0o777, 0o600, side);
    }
    await store.close();
  });

  it("tightens a pre-existing database file to 0600", async () => {
    const path = join(dataDir, "custom.db");
    closeSync(openSync(path, "w", 0o644));
    chmodSync(path, 0o644);
    const store = await createSqliteStore({ path, now: Date.now });
    assert.equal(statSync(path).mode & 0o777, 0o600);
    await store.ping();
    await store.close();
  });

  it("enforces foreign keys", async () => {
    const store = await createSqliteStore({ dataDir, now: Date.now });
    await assert.rejects(store.createConnection({ tenantId: "ghost", userId: "u", providerName: "p" }), {
      name: "NotFoundError",
    });
    await store.close();
  });

  it("reports an unexpected constraint failure without the bound values", async () => {
    const store = await createSqliteStore({ dataDir, now: Date.now });
    await store.ensureTenant({ id: "acme" });
    const marker = "VALUE-THAT-MUST-NOT-LEAK";
    const failing = store.createConnection({
      tenantId: "acme",
      userId: marker,
      providerName: "p",
      // Not a status: only the CHECK constraint stops it.
      status: "bogus" as ConnectionStatus,
    });
    await assert.rejects(failing, (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /CHECK constraint failed: connections_status_known/);
      assert.ok(!error.message.includes(marker), error.message);
      return true;
    });
    await store.close();
  });

  it("refuses methods after close", async () => {
    const store = await createSqliteStore({ dataDir, now: Date.now });
    await store.close();
    await assert.rejects(store.ping());
  });
});
