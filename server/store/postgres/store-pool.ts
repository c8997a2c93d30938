/**
 * The node-postgres pool behind the PostgreSQL store, set up to survive the database going away:
 * every client, idle or checked out, has an 'error' listener (pg-pool only listens on idle ones,
 * and an 'error' event without a listener ends the process), and waiting for a connection is
 * bounded so a request to an unreachable database fails (Unavailable) instead of hanging.
 */
import { Pool } from "pg";

/** Options of `createStorePool`. */
export interface StorePoolOptions {
  connectionString: string;
  /** Most connections open at once. Default 10. */
  poolMax?: number;
  /** Longest wait for a connection (database unreachable or pool exhausted), ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Told about every connection failure outside a query; messages carry no query values. */
  onError: (error: Error) => void;
}

/** Creates the pool; it connects lazily. */
export function createStorePool(options: StorePoolOptions): Pool {
  const pool = new Pool({
    connectionString: options.connectionString,
    max: options.poolMax ?? 10,
    // A default only: an application_name in the connection string wins.
    application_name: "nexus",
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    keepAlive: true,
  });
  pool.on("error", options.onError);
  // A checked-out client (a transaction between two statements, the migration lock) whose
  // connection drops emits 'error' too; the statement in flight, if any, fails on its own.
  pool.on("connect", (client) => client.on("error", options.onError));
  return pool;
}
