/**
 * Declares a node:test suite that needs a PostgreSQL server: it runs when the server answers, is
 * reported as one skipped test (with the reason) when it doesn't, and FAILS instead when the
 * caller says it runs in CI. Test support only; it reads no environment itself (callers pass it).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Client } from "pg";

/** Where the suite's server is, and whether an unreachable server is a failure. */
export interface PostgresTestTarget {
  /** Maintenance URL (a database the user may CREATE DATABASE from); see postgres-test-database.ts. */
  maintenanceUrl: string;
  /** True in CI: an unreachable server fails the run instead of skipping. */
  isRequired: boolean;
}

/**
 * Declares `body` as `describe(name)` when PostgreSQL at `target.maintenanceUrl` answers.
 * Must be awaited at module top level (it probes the server before declaring anything).
 * @example await describeWithPostgres("bridge", { maintenanceUrl, isRequired: Boolean(process.env.CI) }, (url) => { … });
 */
export async function describeWithPostgres(
  name: string,
  target: PostgresTestTarget,
  body: (maintenanceUrl: string) => void,
): Promise<void> {
  const unreachable = await unreachableReason(target.maintenanceUrl);
  const where = redacted(target.maintenanceUrl);
  if (unreachable === null) {
    describe(name, () => body(target.maintenanceUrl));
  } else if (target.isRequired) {
    it(`${name}: PostgreSQL is reachable (required when CI is set)`, () => {
      assert.fail(`PostgreSQL at ${where} is unreachable: ${unreachable}`);
    });
  } else {
    it(name, { skip: `PostgreSQL at ${where} is unreachable (${unreachable}); set NEXUS_TEST_DATABASE_URL` }, () => {});
  }
}

/** Why PostgreSQL cannot be used, or null when it answers. */
async function unreachableReason(url: string): Promise<string | null> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("select 1");
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    // The answer is already decided; end() only fails when there never was a connection.
    await client.end().catch(() => undefined);
  }
}

/** The URL for messages, password hidden. */
function redacted(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparsable NEXUS_TEST_DATABASE_URL)";
  }
}
