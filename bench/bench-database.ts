/**
 * Throwaway PostgreSQL databases for the benchmarks: a random `nexus_bench_…` name created through
 * the maintenance database and dropped (sessions closed by force) when the scenario ends.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

/** Where the bench finds PostgreSQL (trust auth on loopback, as on the project's machines). */
export const BENCH_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres";

/** A database created for one scenario. */
export interface BenchDatabase {
  url: string;
  drop(): Promise<void>;
}

/** Creates an empty database; rejects when PostgreSQL is unreachable. */
export async function createBenchDatabase(maintenanceUrl = BENCH_POSTGRES_URL): Promise<BenchDatabase> {
  const name = `nexus_bench_${randomBytes(6).toString("hex")}`;
  await withClient(maintenanceUrl, (client) => client.query(`CREATE DATABASE "${name}"`));
  const url = new URL(maintenanceUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () =>
      withClient(maintenanceUrl, (client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}
