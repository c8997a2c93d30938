/**
 * A cheap "is the schema current?" for start-up. drizzle's migrator reads and hashes every
 * migration file and runs DDL on every start; a restart on a current schema needs none of it. The
 * rule is drizzle's own: it applies a journal entry when the newest applied migration's
 * `created_at` is older than the entry's `when` (or nothing was applied). So the schema is current
 * when the newest applied `created_at` is at least the newest `when` in the journal.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The newest `when` (epoch ms) in a drizzle-kit migrations folder's journal; -Infinity if empty. */
export function newestJournalMillis(migrationsFolder: string): number {
  const journal = JSON.parse(readFileSync(join(migrationsFolder, "meta", "_journal.json"), "utf8")) as {
    entries?: { when?: unknown }[];
  };
  return Math.max(...(journal.entries ?? []).map((entry) => Number(entry.when)));
}

/**
 * Whether drizzle's migrator would apply nothing, given the newest applied migration's
 * `created_at` (undefined when none, or no migrations table yet).
 */
export function isSchemaCurrent(newestAppliedCreatedAt: unknown, migrationsFolder: string): boolean {
  if (newestAppliedCreatedAt === undefined || newestAppliedCreatedAt === null) return false;
  const applied = Number(newestAppliedCreatedAt);
  const newest = newestJournalMillis(migrationsFolder);
  return Number.isFinite(applied) && Number.isFinite(newest) && applied >= newest;
}
