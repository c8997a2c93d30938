/**
 * Throwaway PostgreSQL databases for tests: each gets a random `nexus_test_…` name, is created
 * through a maintenance connection and dropped (even with sessions still open) when done.
 * Test support only; never imported by server code, and it reads no environment itself.
 */
import { randomBytes } from "node:crypto";
import { Client } from "pg";

/** A database created for a test, and how to reach and remove it. */
export interface TestDatabase {
  name: string;
  /** Connection string of this database (the maintenance URL with its path replaced). */
  url: string;
  /** Drops the database, closing any sessions still connected to it. */
  drop(): Promise<void>;
}

/**
 * Creates an empty database via `maintenanceUrl` (a database the user may CREATE DATABASE from,
 * usually `postgres`). It asks for an ICU en-US collation, where "a" < "B", so ordering that
 * silently relied on bytewise collation fails in tests; servers without ICU get their default.
 */
export async function createTestDatabase(maintenanceUrl: string): Promise<TestDatabase> {
  const name = `nexus_test_${randomBytes(6).toString("hex")}`;
  await withClient(maintenanceUrl, async (client) => {
    try {
      await client.query(`CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'`);
    } catch {
      // PostgreSQL before 15, or built without ICU: the default collation still runs every test.
      await client.query(`CREATE DATABASE "${name}"`);
    }
  });
  const url = new URL(maintenanceUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () =>
      withClient(maintenanceUrl, async (client) => {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      }),
  };
}

async function withClient<T>(url: string, use: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}
