/**
 * SQLite-only checks of the refresh schedule query: with many connections and few due ones, the
 * due list walks `connections_next_refresh_idx` (a range search, no full scan and no sort), with
 * and without planner statistics (the server never runs ANALYZE).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { drizzle } from "drizzle-orm/better-sqlite3";
import { dueIdsQuery, dueRefreshesQuery } from "./refresh-lease-store.ts";
import { createSqliteStore, SQLITE_FILE_NAME } from "./store.ts";

describe("SQLite refresh schedule", () => {
  it("lists due refreshes through the next_refresh_at index", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "nexus-lease-"));
    const store = await createSqliteStore({ dataDir, now: Date.now });
    const raw = new Database(join(dataDir, SQLITE_FILE_NAME));
    try {
      await store.ensureTenant({ id: "acme" });
      const insert = raw.prepare(
        "insert into connections (id, tenant_id, user_id, provider_name, status, scopes, params, created_at, updated_at, next_refresh_at) " +
          "values (?, 'acme', 'u', 'p', 'active', '[]', '{}', 0, 0, ?)",
      );
      raw.transaction(() => {
        for (let i = 0; i < 20_000; i += 1) insert.run(`conn_${i}`, i < 5 ? 1_000 + i : i % 3 === 0 ? null : 10_000_000 + i);
      })();
      raw.exec("analyze");
      const { sql, params } = dueRefreshesQuery({ db: drizzle({ client: raw }) }, 2_000, 100).toSQL();
      const plan = (raw.prepare(`explain query plan ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail);
      assert.ok(
        plan.some((d) => /SEARCH connections USING INDEX connections_next_refresh_idx \(next_refresh_at<\?\)/.test(d)),
        plan.join("\n"),
      );
      assert.ok(!plan.some((d) => /TEMP B-TREE|SCAN connections/.test(d)), plan.join("\n"));
      assert.deepEqual(
        (await store.listDueRefreshes(2_000, 100)).map((c) => c.id),
        ["conn_0", "conn_1", "conn_2", "conn_3", "conn_4"],
      );
    } finally {
      raw.close();
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("walks the next_refresh_at index without statistics, when every connection is active", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "nexus-lease-"));
    const store = await createSqliteStore({ dataDir, now: Date.now });
    const raw = new Database(join(dataDir, SQLITE_FILE_NAME));
    try {
      await store.ensureTenant({ id: "acme" });
      const insert = raw.prepare(
        "insert into connections (id, tenant_id, user_id, provider_name, status, scopes, params, created_at, updated_at, next_refresh_at) " +
          "values (?, 'acme', 'u', 'p', 'active', '[]', '{}', 0, 0, ?)",
      );
      raw.transaction(() => {
        for (let i = 0; i < 5_000; i += 1) insert.run(`conn_${i}`, i < 5 ? 1_000 + i : 10_000_000 + i);
      })();
      const db = drizzle({ client: raw });
      for (const query of [dueRefreshesQuery({ db }, 2_000, 100), dueIdsQuery({ db }, 2_000, 100)]) {
        const { sql, params } = query.toSQL();
        const plan = (raw.prepare(`explain query plan ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail);
        assert.ok(
          plan.some((d) => /SEARCH connections USING (COVERING )?INDEX connections_next_refresh_idx \(next_refresh_at<\?\)/.test(d)),
          plan.join("\n"),
        );
        assert.ok(!plan.some((d) => /TEMP B-TREE|SCAN connections|connections_status_updated_idx/.test(d)), plan.join("\n"));
      }
      const claimed = await store.claimDueRefreshes(2_000, 100, "owner-a", 5_000);
      assert.deepEqual(
        claimed.map((c) => c.connection.id),
        ["conn_0", "conn_1", "conn_2", "conn_3", "conn_4"],
      );
    } finally {
      raw.close();
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
