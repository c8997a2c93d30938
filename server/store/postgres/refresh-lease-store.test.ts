/**
 * PostgreSQL-only checks of the refresh schedule query: with many connections and few due ones,
 * the planner reads the due list through `connections_next_refresh_idx` rather than the table.
 * Needs a server at NEXUS_TEST_DATABASE_URL (default: local postgres); fails when CI is set.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { drizzle } from "drizzle-orm/node-postgres";
import { Client } from "pg";
import { createTestDatabase, type TestDatabase } from "../../../test/support/postgres-test-database.ts";
import { describeWithPostgres } from "../../../test/support/postgres-test-server.ts";
import { dueRefreshesQuery } from "./refresh-lease-store.ts";
import { createPostgresStore } from "./store.ts";

const maintenanceUrl = process.env.NEXUS_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

await describeWithPostgres("PostgreSQL refresh schedule", { maintenanceUrl, isRequired: Boolean(process.env.CI) }, (url) => {
  let database: TestDatabase | undefined;
  before(async () => {
    database = await createTestDatabase(url);
  });
  after(async () => {
    await database?.drop();
  });

  it("lists due refreshes through the next_refresh_at index", async () => {
    if (!database) throw new Error("no test database");
    const store = await createPostgresStore({ connectionString: database.url, now: Date.now });
    const client = new Client({ connectionString: database.url });
    await client.connect();
    try {
      await store.ensureTenant({ id: "acme" });
      await client.query(
        "insert into connections (id, tenant_id, user_id, provider_name, status, scopes, params, created_at, updated_at, next_refresh_at) " +
          "select 'conn_' || i, 'acme', 'u', 'p', 'active', '[]', '{}', 0, 0, " +
          "case when i < 5 then 1000 + i when i % 3 = 0 then null else 10000000 + i end from generate_series(0, 19999) i",
      );
      await client.query("analyze connections");
      const { sql, params } = dueRefreshesQuery({ db: drizzle({ client }) }, 2_000, 100).toSQL();
      const { rows } = await client.query<{ "QUERY PLAN": unknown }>(`explain (format json) ${sql}`, params);
      const plan = JSON.stringify(rows[0]?.["QUERY PLAN"]);
      assert.match(plan, /"Index Name":"connections_next_refresh_idx"/, plan);
      assert.doesNotMatch(plan, /"Node Type":"Seq Scan"|"Node Type":"Sort"/, plan);
      assert.deepEqual(
        (await store.listDueRefreshes(2_000, 100)).map((c) => c.id),
        ["conn_0", "conn_1", "conn_2", "conn_3", "conn_4"],
      );
    } finally {
      await client.end();
      await store.close();
    }
  });
});
