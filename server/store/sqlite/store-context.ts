/**
 * What every SQLite table module shares: the drizzle handle over one open database, the clock and
 * the id generator. It opens nothing itself; `store.ts` builds it once per store.
 */
import type Database from "better-sqlite3";
import type { BetterSQLite3Database } from "drizzle-orm/better-sqlite3";
import type { IdGenerator } from "../id-generator.ts";
import type { GroupCommit } from "./group-commit.ts";

/** The dependencies of the SQLite table modules. */
export interface SqliteStoreContext {
  db: BetterSQLite3Database;
  /** The same connection without drizzle, for the few reads its mapping costs too much on (GetToken). */
  client: Database.Database;
  /** Epoch milliseconds. */
  now(): number;
  ids: IdGenerator;
  /** Shared transactions for the writes refresh flights make at the same moment (group-commit.ts). */
  writes: GroupCommit;
}
