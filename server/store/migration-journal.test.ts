import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import Database from "better-sqlite3";
import { drizzle } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { isSchemaCurrent, newestJournalMillis } from "./migration-journal.ts";
import { createSqliteStore } from "./sqlite/store.ts";

const SQLITE_MIGRATIONS = join(import.meta.dirname, "sqlite", "migrations");
const journal = JSON.parse(readFileSync(join(SQLITE_MIGRATIONS, "meta", "_journal.json"), "utf8")) as {
  entries: { when: number; tag: string }[];
};
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "nexus-migrations-"));
  dirs.push(dir);
  return dir;
};
describe("migration journal", () => {
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  const appliedTags = (file: string) => {
    const db = new Database(file, { readonly: true });
    try {
      const hashes = db.prepare('SELECT created_at FROM "__drizzle_migrations" ORDER BY created_at').all() as { created_at: number }[];
      return hashes.map((row) => journal.entries.find((entry) => entry.when === Number(row.created_at))?.tag);
    } finally {
      db.close();
    }
  };

  describe("migration journal check", () => {
    test("current only when the newest applied migration is at least the journal's newest (drizzle's rule)", () => {
      const newest = newestJournalMillis(SQLITE_MIGRATIONS);
      assert.equal(newest, Math.max(...journal.entries.map((entry) => entry.when)));
      assert.equal(isSchemaCurrent(undefined, SQLITE_MIGRATIONS), false, "no migrations table or row");
      assert.equal(isSchemaCurrent(newest - 1, SQLITE_MIGRATIONS), false, "one behind");
      assert.equal(isSchemaCurrent(newest, SQLITE_MIGRATIONS), true);
      assert.equal(isSchemaCurrent(String(newest), SQLITE_MIGRATIONS), true, "numeric column values come back as text too");
      assert.equal(isSchemaCurrent("garbage", SQLITE_MIGRATIONS), false);
    });

    test("a SQLite database one migration behind is migrated at open; a current one is left as it is", async () => {
      assert.ok(journal.entries.length >= 2);
      // The database as the previous release left it: every migration but the newest.
      const older = tempDir();
      cpSync(SQLITE_MIGRATIONS, older, { recursive: true });
      writeFileSync(join(older, "meta", "_journal.json"), JSON.stringify({ ...journal, entries: journal.entries.slice(0, -1) }));
      const dataDir = tempDir();
      const file = join(dataDir, "nexus.db");
      const client = new Database(file);
      migrate(drizzle({ client }), { migrationsFolder: older });
      client.close();
      assert.deepEqual(
        appliedTags(file),
        journal.entries.slice(0, -1).map((entry) => entry.tag),
      );

      const store = await createSqliteStore({ dataDir, now: Date.now });
      await store.close();
      const all = journal.entries.map((entry) => entry.tag);
      assert.deepEqual(appliedTags(file), all, "the newest migration was applied");

      const again = await createSqliteStore({ dataDir, now: Date.now });
      await again.ping();
      await again.close();
      assert.deepEqual(appliedTags(file), all, "nothing applied twice");
    });
  });
});
