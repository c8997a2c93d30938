/**
 * Applies the drizzle-kit migrations to a PostgreSQL database while holding a session advisory
 * lock on one dedicated connection. drizzle's migrator takes no lock of its own, so two processes
 * starting together would both create the migrations table and both run the same DDL; under the
 * lock the second waits, then finds everything applied. It owns no connection beyond this call.
 * A restart on a current schema (every restart but an upgrade's first) only compares the journal
 * with the applied migrations, without the lock or the migrator: applied rows are committed with
 * their DDL in one transaction, so "current" is never seen before the schema is.
 */
import { drizzle } from "drizzle-orm/node-postgres";
import type { Pool, PoolClient } from "pg";
import { isSchemaCurrent } from "../migration-journal.ts";
import { runQuery } from "./run-query.ts";

/**
 * The advisory lock key: the ASCII bytes of "nexusmig" read as a signed 64-bit integer, so it
 * cannot collide with small keys other applications pick. Passed as text; PostgreSQL casts it.
 */
const MIGRATION_LOCK_KEY = "7954884599197829479";

/**
 * Runs the migrations in `migrationsFolder` on a connection taken from `pool`, under the lock.
 * Resolves when the schema is current; a database already up to date is left unchanged.
 */
export function migrateUnderLock(pool: Pool, migrationsFolder: string): Promise<void> {
  return runQuery(async () => {
    const client = await pool.connect();
    let failure: Error | undefined;
    try {
      if (isSchemaCurrent(await newestAppliedMigration(client), migrationsFolder)) return;
      const { migrate } = await import("drizzle-orm/node-postgres/migrator");
      // Session-level lock: it lives on this connection, so the migrations must run on it too
      // (drizzle({ client }) uses the client itself, not a pooled sibling).
      await client.query("SELECT pg_advisory_lock($1::bigint)", [MIGRATION_LOCK_KEY]);
      try {
        await migrate(drizzle({ client }), { migrationsFolder });
      } finally {
        await client.query("SELECT pg_advisory_unlock($1::bigint)", [MIGRATION_LOCK_KEY]);
      }
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
      throw error;
    } finally {
      // After a failure the connection is destroyed rather than reused; closing it also ends the
      // session, which releases the lock if the unlock itself could not run.
      client.release(failure);
    }
  });
}

/** drizzle's migrations table's (drizzle.__drizzle_migrations) newest `created_at`, or undefined. */
async function newestAppliedMigration(client: PoolClient): Promise<unknown> {
  const table = await client.query<{ name: string | null }>(`SELECT to_regclass('drizzle."__drizzle_migrations"')::text AS name`);
  if (table.rows[0]?.name == null) return undefined;
  const newest = await client.query<{ created_at: unknown }>(
    'SELECT created_at FROM drizzle."__drizzle_migrations" ORDER BY created_at DESC LIMIT 1',
  );
  return newest.rows[0]?.created_at;
}
