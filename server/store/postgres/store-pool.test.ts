/**
 * The store's pool when the database goes away (needs PostgreSQL; reached through a TCP proxy that
 * the test cuts or black-holes, so the shared server is never touched): a checked-out client whose
 * connection drops does not crash the process, queries fail StoreUnavailableError — also when the
 * network goes silent instead of failing — closing never hangs, and the pool recovers.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { describeWithPostgres } from "../../../test/support/postgres-test-server.ts";
import { startTcpProxy } from "../../../test/support/tcp-proxy.ts";
import { StoreUnavailableError } from "../../domain/errors.ts";
import { runQuery } from "./run-query.ts";
import { createStorePool } from "./store-pool.ts";

const maintenanceUrl = process.env.NEXUS_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** `promise`, or a rejection naming `what` if it has not settled after `ms` (a hang, not a timing check). */
function orHang<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: still waiting after ${ms} ms`)), ms)),
  );
  return Promise.race([promise, hang]).finally(() => clearTimeout(timer));
}

await describeWithPostgres("PostgreSQL store pool under an outage", { maintenanceUrl, isRequired: Boolean(process.env.CI) }, (url) => {
  it("survives a checked-out connection dropping, answers StoreUnavailableError, then recovers", async () => {
    const target = new URL(url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const errors: Error[] = [];
    const { pool, end } = createStorePool({
      connectionString: proxy.rewrite(url),
      connectTimeoutMs: 2_000,
      onError: (e) => errors.push(e),
    });
    try {
      // Checked out and idle between statements, as inside a transaction: pg-pool does not listen on it.
      const client = await pool.connect();
      await client.query("select 1");
      // (events.once would reject on the very 'error' this test is about.)
      const ended = new Promise((resolve) => client.once("end", resolve));
      await proxy.outage();
      await ended;
      client.release(true);
      assert.ok(
        errors.some((e) => /Connection terminated unexpectedly/.test(e.message)),
        "the drop was reported, not thrown",
      );

      await assert.rejects(
        runQuery(() => pool.query("select 1")),
        StoreUnavailableError,
      );
      await proxy.restore();
      assert.deepEqual((await runQuery(() => pool.query<{ one: number }>("select 1 as one"))).rows, [{ one: 1 }]);
    } finally {
      await end();
      await proxy.close();
    }
  });

  it("a silent partition answers StoreUnavailableError after the query timeout, closing does not hang, and the pool recovers", async () => {
    const target = new URL(url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const { pool, end } = createStorePool({
      connectionString: proxy.rewrite(url),
      connectTimeoutMs: 1_000,
      queryTimeoutMs: 1_000,
      onError: () => {},
    });
    const second = createStorePool({ connectionString: proxy.rewrite(url), onError: () => {} });
    try {
      await pool.query("select 1");
      await second.pool.query("select 1");
      proxy.blackhole();
      // The idle connection's query gets no answer (no reset, no FIN): the query timeout ends it.
      await assert.rejects(
        orHang(
          runQuery(() => pool.query("select 1")),
          30_000,
          "query on a silent connection",
        ),
        (err: Error) => err instanceof StoreUnavailableError && /did not answer in time/.test(err.message),
      );
      // That connection was discarded; a new one is accepted but never answered: the connect timeout ends it.
      await assert.rejects(
        orHang(
          runQuery(() => pool.query("select 1")),
          30_000,
          "query on a new connection",
        ),
        StoreUnavailableError,
      );
      // A pool whose idle connection is partitioned still closes (its goodbye is never answered).
      await orHang(second.end(500), 30_000, "closing a partitioned pool");

      await proxy.restore();
      assert.deepEqual((await runQuery(() => pool.query<{ one: number }>("select 1 as one"))).rows, [{ one: 1 }]);
    } finally {
      await second.end(500);
      await end(500);
      await proxy.close();
    }
  });
});
