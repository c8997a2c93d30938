/**
 * What every PostgreSQL table module shares: the drizzle handle over one connection pool, the
 * clock and the id generator. It opens nothing itself; `store.ts` builds it once per store.
 */
import type { NodePgDatabase } from "drizzle-orm/node-postgres";
import type { IdGenerator } from "../id-generator.ts";

/** The dependencies of the PostgreSQL table modules. */
export interface PostgresStoreContext {
  db: NodePgDatabase;
  /** Epoch milliseconds. */
  now(): number;
  ids: IdGenerator;
}
