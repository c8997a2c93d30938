/**
 * Conformance cases for connections: defaults, tenant isolation on every scoped method, filters,
 * keyset paging (ties included) and page request validation. Status changes are connection-status-cases.ts's.
 */
import assert from "node:assert/strict";
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from "../../domain/errors.ts";
import type { ConnectionFilter, ConnectionRecord } from "../store.ts";
import { assertRejectsWith, collectPages, START_TIME_MS, type StoreHarness, seedConnection } from "./harness.ts";

/** Declares the connection cases. */
export function describeConnectionCases(h: StoreHarness): void {
  h.test("createConnection fills defaults and generates distinct conn_ ids", async () => {
    const a = await seedConnection(h.store(), "tenant-a");
    const b = await seedConnection(h.store(), "tenant-a");
    assert.match(a.id, /^conn_[A-Za-z0-9_-]{22,}$/);
    assert.notEqual(a.id, b.id);
    assert.deepEqual(a, {
      id: a.id,
      tenantId: "tenant-a",
      userId: "user-1",
      providerName: "google",
      status: "pending",
      statusReason: null,
      scopes: [],
      params: {},
      returnUrl: null,
      createdAtMs: START_TIME_MS,
      updatedAtMs: START_TIME_MS,
      credentialVersion: 0,
      credentialExpiresAtSeconds: null,
      nextRefreshAtMs: null,
      account: null,
      labels: {},
      metadata: {},
      reusedConnectionId: null,
    });
  });

  h.test("createConnection stores labels; the status write sets account, metadata and the reused id on the row", async () => {
    const created = await seedConnection(h.store(), "tenant-a", { labels: { end_user_id: "u-42", "team.name": "a b=c" } });
    assert.deepEqual(created.labels, { end_user_id: "u-42", "team.name": "a b=c" });
    const account = { id: "12345", email: "alice@example.com", displayName: "Alice" };
    h.clock.advance(5);
    const active = await h.store().updateConnectionStatus("tenant-a", created.id, "pending", "active", null, {
      account,
      metadata: { realm_id: "9130" },
    });
    assert.deepEqual(active.account, account);
    assert.deepEqual(active.metadata, { realm_id: "9130" });
    assert.equal(active.updatedAtMs, START_TIME_MS + 5);
    assert.deepEqual(await h.store().getConnection("tenant-a", created.id), active);
    // Absent changes keep them; an account without e-mail or name reads back with nulls.
    const attention = await h.store().updateConnectionStatus("tenant-a", created.id, "active", "attention_required", "invalid_grant");
    assert.deepEqual([attention.account, attention.metadata, attention.labels], [account, { realm_id: "9130" }, created.labels]);
    const again = await h.store().updateConnectionStatus("tenant-a", created.id, "attention_required", "active", null, {
      account: { id: "x", email: null, displayName: null },
    });
    assert.deepEqual(again.account, { id: "x", email: null, displayName: null });
    const other = await seedConnection(h.store(), "tenant-a");
    const reused = await h.store().updateConnectionStatus("tenant-a", other.id, "pending", "failed", "reused_existing", {
      account,
      reusedConnectionId: created.id,
    });
    assert.equal(reused.reusedConnectionId, created.id);
    assert.equal(reused.statusReason, "reused_existing");
  });

  h.test("listConnections filters by account id and by labels (every one must match)", async () => {
    const store = h.store();
    const seed = async (labels: Record<string, string>, accountId?: string) => {
      const c = await seedConnection(store, "tenant-a", { labels });
      if (accountId === undefined) return c;
      return store.updateConnectionStatus("tenant-a", c.id, "pending", "active", null, {
        account: { id: accountId, email: null, displayName: null },
      });
    };
    const both = await seed({ workspace: "acme", end_user_id: "u1" }, "acct-1");
    const acmeOnly = await seed({ workspace: "acme" }, "acct-2");
    await seed({ workspace: "other", end_user_id: "u1" });
    await seed({ "workspace.x": "acme" });
    await store.ensureTenant({ id: "tenant-b" });
    await seedConnection(store, "tenant-b", { labels: { workspace: "acme" } });
    const ids = async (filter: ConnectionFilter) => (await store.listConnections("tenant-a", filter, {})).items.map((c) => c.id).sort();
    assert.deepEqual(await ids({ labels: { workspace: "acme" } }), [both.id, acmeOnly.id].sort());
    assert.deepEqual(await ids({ labels: { workspace: "acme", end_user_id: "u1" } }), [both.id]);
    assert.deepEqual(await ids({ labels: { workspace: "ACME" } }), [], "values compare exactly");
    assert.deepEqual(await ids({ labels: { missing: "" } }), [], "an absent label is not an empty one");
    assert.deepEqual(await ids({ accountId: "acct-2" }), [acmeOnly.id]);
    assert.deepEqual(await ids({ accountId: "acct-1", labels: { workspace: "acme" }, status: "active" }), [both.id]);
    assert.equal((await ids({ labels: {} })).length, 4, "no labels do not filter");
  });

  h.test("label filters compare values exactly: no LIKE wildcards, quotes, JSON or path syntax", async () => {
    const store = h.store();
    const odd = `50%_off 'q' "dq" \\ {"a":1} $.x é`;
    const target = await seedConnection(store, "tenant-odd", { labels: { promo: odd, "team.name": "x" } });
    await seedConnection(store, "tenant-odd", { labels: { promo: "50 off", team: "x" } });
    const ids = async (labels: Record<string, string>) =>
      (await store.listConnections("tenant-odd", { labels }, {})).items.map((c) => c.id);
    assert.deepEqual(await ids({ promo: odd }), [target.id]);
    for (const probe of ["50%", "50%_off%", "%", "_0%", '50%_off \'q\' "dq" \\\\ {"a":1} $.x e', "' OR '1'='1", '{"a":1}']) {
      assert.deepEqual(await ids({ promo: probe }), [], probe);
    }
    assert.deepEqual(await ids({ "team.name": "x" }), [target.id], "a dotted key is one key, not a path");
  });

  h.test("createConnection stores what it is given", async () => {
    const created = await seedConnection(h.store(), "tenant-a", {
      id: "conn_given",
      userId: "user-9",
      providerName: "shopify",
      status: "active",
      statusReason: "invalid_grant",
      scopes: ["read_orders", "write_orders"],
      params: { shop: "acme" },
      returnUrl: "https://app.example/back?x=1",
    });
    assert.equal(created.id, "conn_given");
    assert.deepEqual(await h.store().getConnection("tenant-a", "conn_given"), created);
    assert.deepEqual(created.scopes, ["read_orders", "write_orders"]);
    assert.deepEqual(created.params, { shop: "acme" });
    assert.equal(created.status, "active");
    assert.equal(created.statusReason, "invalid_grant");
    assert.equal(created.returnUrl, "https://app.example/back?x=1");
  });

  h.test("createConnection in a missing tenant is NotFound(tenant)", async () => {
    const creating = h.store().createConnection({ tenantId: "ghost", userId: "u", providerName: "google" });
    await assertRejectsWith(creating, NotFoundError, (error) => assert.equal(error.kind, "tenant"));
  });

  h.test("createConnection with a taken id is AlreadyExists", async () => {
    await seedConnection(h.store(), "tenant-a", { id: "conn_same" });
    await assertRejectsWith(seedConnection(h.store(), "tenant-b", { id: "conn_same" }), AlreadyExistsError, (error) =>
      assert.equal(error.kind, "connection"),
    );
  });

  h.test("getConnection of another tenant's or a missing connection is NotFound", async () => {
    const own = await seedConnection(h.store(), "tenant-a");
    await h.store().ensureTenant({ id: "tenant-b" });
    for (const [tenantId, id] of [
      ["tenant-b", own.id],
      ["tenant-a", "conn_missing"],
    ] as const) {
      await assertRejectsWith(h.store().getConnection(tenantId, id), NotFoundError, (error) => {
        assert.equal(error.kind, "connection");
        assert.equal(error.id, id);
      });
    }
  });

  h.test("findConnectionById finds any tenant's connection and null when missing", async () => {
    const created = await seedConnection(h.store(), "tenant-a");
    assert.deepEqual(await h.store().findConnectionById(created.id), created);
    assert.equal(await h.store().findConnectionById("conn_missing"), null);
  });

  h.test("listConnections returns only the tenant's connections, newest first", async () => {
    const a1 = await seedConnection(h.store(), "tenant-a");
    h.clock.advance(10);
    await seedConnection(h.store(), "tenant-b");
    h.clock.advance(10);
    const a2 = await seedConnection(h.store(), "tenant-a");
    const page = await h.store().listConnections("tenant-a", {}, {});
    assert.deepEqual(
      page.items.map((c) => c.id),
      [a2.id, a1.id],
    );
    assert.equal(page.nextPageToken, "");
    await h.store().ensureTenant({ id: "tenant-c" });
    assert.deepEqual((await h.store().listConnections("tenant-c", {}, {})).items, []);
  });

  h.test("listConnections filters by user, provider and status", async () => {
    const match = await seedConnection(h.store(), "tenant-a", { userId: "u1", providerName: "github", status: "active" });
    await seedConnection(h.store(), "tenant-a", { userId: "u2", providerName: "github", status: "active" });
    await seedConnection(h.store(), "tenant-a", { userId: "u1", providerName: "google", status: "active" });
    await seedConnection(h.store(), "tenant-a", { userId: "u1", providerName: "github", status: "pending" });
    await seedConnection(h.store(), "tenant-b", { userId: "u1", providerName: "github", status: "active" });
    const ids = async (filter: ConnectionFilter) => (await h.store().listConnections("tenant-a", filter, {})).items.map((c) => c.id);
    assert.deepEqual(await ids({ userId: "u1", providerName: "github", status: "active" }), [match.id]);
    assert.equal((await ids({ userId: "u1" })).length, 3);
    assert.equal((await ids({ providerName: "github" })).length, 3);
    assert.equal((await ids({ status: "pending" })).length, 1);
    assert.equal((await ids({ userId: "", providerName: "" })).length, 4, "empty filters do not filter");
  });

  h.test("listConnections pages without duplicates or gaps, equal timestamps included", async () => {
    const created: ConnectionRecord[] = [];
    for (let i = 0; i < 23; i++) {
      // Every third connection shares its creation time with the previous one.
      if (i % 3 !== 0) h.clock.advance(1);
      created.push(await seedConnection(h.store(), "tenant-a"));
    }
    await seedConnection(h.store(), "tenant-b");
    const { items, pages } = await collectPages(5, (pageToken) => h.store().listConnections("tenant-a", {}, { pageSize: 5, pageToken }));
    assert.equal(pages, 5);
    assert.equal(items.length, 23);
    assert.equal(new Set(items.map((c) => c.id)).size, 23);
    assert.deepEqual(new Set(items.map((c) => c.id)), new Set(created.map((c) => c.id)));
    for (let i = 1; i < items.length; i++) {
      const [prev, next] = [items[i - 1], items[i]] as [ConnectionRecord, ConnectionRecord];
      const ordered = prev.createdAtMs > next.createdAtMs || (prev.createdAtMs === next.createdAtMs && prev.id > next.id);
      assert.ok(ordered, `items ${i - 1} and ${i} are out of order`);
    }
  });

  h.test("listConnections validates page size and page token", async () => {
    await seedConnection(h.store(), "tenant-a");
    await seedConnection(h.store(), "tenant-a");
    for (const pageSize of [-1, 2.5, Number.NaN]) {
      await assertRejectsWith(h.store().listConnections("tenant-a", {}, { pageSize }), InvalidArgumentError, (error) =>
        assert.equal(error.field, "page_size"),
      );
    }
    const providerToken = Buffer.from(JSON.stringify(["providers", "google"])).toString("base64url");
    for (const pageToken of ["not a token!", "e30", providerToken, "A".repeat(5000)]) {
      await assertRejectsWith(h.store().listConnections("tenant-a", {}, { pageToken }), InvalidArgumentError, (error) =>
        assert.equal(error.field, "page_token"),
      );
    }
    const clamped = await h.store().listConnections("tenant-a", {}, { pageSize: 1_000_000 });
    assert.equal(clamped.items.length, 2, "an oversized page size is lowered, not refused");
    const first = await h.store().listConnections("tenant-a", {}, { pageSize: 1 });
    assert.equal(first.items.length, 1);
    assert.notEqual(first.nextPageToken, "");
  });
}
