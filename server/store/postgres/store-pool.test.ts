/**
 * The store's pool when the database goes away (needs PostgreSQL; reached through a TCP proxy that
 * the test cuts, so the shared server is never touched): a checked-out client whose connection
 * drops does not crash the process, queries fail StoreUnavailableError, and the pool recovers.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { StoreUnavailableError } from "../../domain/errors.ts";
import { startTcpProxy } from "../../../test/support/tcp-proxy.ts";
import { runQuery } from "./run-query.ts";
import { createStorePool } from "./store-pool.ts";
import { describeWithPostgres } from "./test-server.ts";

const maintenanceUrl = process.env.NEXUS_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

await describeWithPostgres("PostgreSQL store pool under an outage", { maintenanceUrl, isRequired: Boolean(process.env.CI) }, (url) => {
  it("survives a checked-out connection dropping, answers StoreUnavailableError, then recovers", async () => {
    const target = new URL(url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const errors: Error[] = [];
    const pool = createStorePool({ connectionString: proxy.rewrite(url), connectTimeoutMs: 2_000, onError: (e) => errors.push(e) });
    try {
      // Checked out and idle between statements, as inside a transaction: pg-pool does not listen on it.
      const client = await pool.connect();
      await client.query("select 1");
      // (events.once would reject on the very 'error' this test is about.)
      const ended = new Promise((resolve) => client.once("end", resolve));
      await proxy.outage();
      await ended;
      client.release(true);
      assert.ok(errors.some((e) => /Connection terminated unexpectedly/.test(e.message)), "the drop was reported, not thrown");

      await assert.rejects(runQuery(() => pool.query("select 1")), StoreUnavailableError);
      await proxy.restore();
      assert.deepEqual((await runQuery(() => pool.query<{ one: number }>("select 1 as one"))).rows, [{ one: 1 }]);
    } finally {
      await pool.end();
      await proxy.close();
    }
  });
});
