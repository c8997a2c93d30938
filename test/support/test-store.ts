/**
 * Which storage backend the cross-package tests run on: SQLite in a temporary data directory (the
 * default), or PostgreSQL when NEXUS_TEST_STORE=postgres — then every data directory gets its own
 * throwaway database, so the same tests prove both backends behave alike.
 */

import type { Store } from "../../server/store/store.ts";
import { createTestDatabase, type TestDatabase } from "./postgres-test-database.ts";

/** The backend under test. */
export const TEST_STORE: "sqlite" | "postgres" = process.env.NEXUS_TEST_STORE === "postgres" ? "postgres" : "sqlite";

/** Maintenance connection used to create and drop test databases. */
const MAINTENANCE_URL = process.env.NEXUS_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

const databases = new Map<string, Promise<TestDatabase>>();

/** Environment variables that point a server (or the CLI) at the test backend for `dataDir`. */
export async function testStoreEnv(dataDir: string): Promise<Record<string, string>> {
  if (TEST_STORE === "sqlite") return {};
  let database = databases.get(dataDir);
  if (database === undefined) {
    database = createTestDatabase(MAINTENANCE_URL);
    databases.set(dataDir, database);
  }
  return { DATABASE_URL: (await database).url };
}

/** Opens the store a server on `dataDir` uses, for tests that look behind the API. */
export async function openTestStore(dataDir: string): Promise<Store> {
  if (TEST_STORE === "sqlite") {
    return (await import("../../server/store/sqlite/store.ts")).createSqliteStore({ dataDir, now: Date.now });
  }
  const { DATABASE_URL } = await testStoreEnv(dataDir);
  return (await import("../../server/store/postgres/store.ts")).createPostgresStore({ connectionString: DATABASE_URL!, now: Date.now });
}

/** Drops the database behind `dataDir` (PostgreSQL); nothing for SQLite, whose files go with the directory. */
export async function dropTestStore(dataDir: string): Promise<void> {
  const database = databases.get(dataDir);
  if (database === undefined) return;
  databases.delete(dataDir);
  await (await database).drop();
}
