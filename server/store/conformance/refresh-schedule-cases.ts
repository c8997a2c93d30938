/**
 * Conformance cases for the refresh schedule: setNextRefresh, and the due list (active, due, unleased,
 * soonest first, bounded) both as read (listDueRefreshes) and as claimed in one go (claimDueRefreshes),
 * with its clearing of inactive rows.
 */
import assert from "node:assert/strict";
import { NotFoundError } from "../../domain/errors.ts";
import { assertRejectsWith, START_TIME_MS, type StoreHarness, seedConnection } from "./harness.ts";
import { LEASE_MS } from "./lease-cases.ts";

/** Declares the refresh-schedule cases. */
export function describeRefreshScheduleCases(h: StoreHarness): void {
  h.test("setNextRefresh sets and clears next_refresh_at; NotFound when missing", async () => {
    const connection = await seedConnection(h.store(), "tenant-a", { status: "active" });
    await h.store().setNextRefresh(connection.id, START_TIME_MS + 1234);
    assert.equal((await h.store().getConnection("tenant-a", connection.id)).nextRefreshAtMs, START_TIME_MS + 1234);
    await h.store().setNextRefresh(connection.id, null);
    assert.equal((await h.store().getConnection("tenant-a", connection.id)).nextRefreshAtMs, null);
    await assertRejectsWith(h.store().setNextRefresh("conn_missing", 1), NotFoundError);
  });

  h.test("claimDueRefreshes claims due active unleased connections soonest first, up to the limit, in one go", async () => {
    const store = h.store();
    const make = async (id: string, next: number | null, status: "active" | "pending" = "active") => {
      await seedConnection(store, "tenant-a", { id, status });
      await store.setNextRefresh(id, next);
    };
    await make("conn_c", START_TIME_MS - 10);
    await make("conn_a", START_TIME_MS - 30);
    await make("conn_b", START_TIME_MS - 20);
    await make("conn_later", START_TIME_MS + 1);
    await make("conn_pending", START_TIME_MS - 40, "pending");
    await make("conn_leased", START_TIME_MS - 50);
    assert.ok(await store.claimRefreshLease("conn_leased", "replica-z", LEASE_MS, START_TIME_MS - 1));

    const first = await store.claimDueRefreshes(START_TIME_MS, 2, "replica-a#1", LEASE_MS);
    assert.deepEqual(
      first.map((c) => [c.connection.id, c.wasInterrupted]),
      [
        ["conn_a", false],
        ["conn_b", false],
      ],
    );
    assert.equal(first[0]?.connection.tenantId, "tenant-a");
    // Another owner gets the rest, never a row already claimed.
    const second = await store.claimDueRefreshes(START_TIME_MS, 10, "replica-b#1", LEASE_MS);
    assert.deepEqual(
      second.map((c) => c.connection.id),
      ["conn_c"],
    );
    assert.deepEqual(await store.claimDueRefreshes(START_TIME_MS, 10, "replica-c#1", LEASE_MS), []);
    // The claims are real leases: held by their owner, released by it.
    assert.equal(await store.claimRefreshLease("conn_a", "replica-c", LEASE_MS, START_TIME_MS), null);
    await store.releaseRefreshLease("conn_a", "replica-a#1");
    assert.ok(await store.claimRefreshLease("conn_a", "replica-c", LEASE_MS, START_TIME_MS));
    // The pending row's schedule was cleared on the way.
    assert.equal((await store.findConnectionById("conn_pending"))?.nextRefreshAtMs, null);
  });

  h.test("claimDueRefreshes reports a lease taken over from an interrupted provider call", async () => {
    const { id } = await seedConnection(h.store(), "tenant-a", { status: "active" });
    const store = h.store();
    assert.ok(await store.claimRefreshLease(id, "replica-a", LEASE_MS, START_TIME_MS));
    await store.renewRefreshLease(id, "replica-a", LEASE_MS, START_TIME_MS, { isCalling: true });
    assert.deepEqual(await store.claimDueRefreshes(START_TIME_MS + LEASE_MS - 1, 10, "replica-b#1", LEASE_MS), []);
    const claimed = await store.claimDueRefreshes(START_TIME_MS + LEASE_MS, 10, "replica-b#1", LEASE_MS);
    assert.deepEqual(
      claimed.map((c) => [c.connection.id, c.wasInterrupted]),
      [[id, true]],
    );
  });

  h.test("listDueRefreshes returns due active connections soonest first, up to the limit", async () => {
    const store = h.store();
    const make = async (id: string, next: number | null, status: "active" | "pending" = "active") => {
      await seedConnection(store, "tenant-a", { id, status });
      await store.setNextRefresh(id, next);
    };
    await make("conn_c", START_TIME_MS - 10);
    await make("conn_a", START_TIME_MS - 30);
    await make("conn_b", START_TIME_MS - 20);
    await make("conn_now", START_TIME_MS);
    await make("conn_later", START_TIME_MS + 1);
    await make("conn_never", null);
    await seedConnection(store, "tenant-b", { id: "conn_other_tenant", status: "active" });
    await store.setNextRefresh("conn_other_tenant", START_TIME_MS - 25);

    const all = await store.listDueRefreshes(START_TIME_MS, 100);
    assert.deepEqual(
      all.map((c) => c.id),
      ["conn_a", "conn_other_tenant", "conn_b", "conn_c", "conn_now"],
    );
    assert.equal(all[0]?.tenantId, "tenant-a");
    assert.equal(all[0]?.nextRefreshAtMs, START_TIME_MS - 30);
    const first = await store.listDueRefreshes(START_TIME_MS, 2);
    assert.deepEqual(
      first.map((c) => c.id),
      ["conn_a", "conn_other_tenant"],
    );
  });

  h.test("listDueRefreshes skips connections under an unexpired lease", async () => {
    const store = h.store();
    await seedConnection(store, "tenant-a", { id: "conn_leased", status: "active" });
    await seedConnection(store, "tenant-a", { id: "conn_free", status: "active" });
    await store.setNextRefresh("conn_leased", START_TIME_MS - 2);
    await store.setNextRefresh("conn_free", START_TIME_MS - 1);
    await store.claimRefreshLease("conn_leased", "replica-a", LEASE_MS, START_TIME_MS);
    assert.deepEqual(
      (await store.listDueRefreshes(START_TIME_MS, 10)).map((c) => c.id),
      ["conn_free"],
    );
    assert.deepEqual(
      (await store.listDueRefreshes(START_TIME_MS + LEASE_MS, 10)).map((c) => c.id),
      ["conn_leased", "conn_free"],
      "an expired lease no longer hides the connection",
    );
  });

  h.test("listDueRefreshes clears the schedule of due connections that are no longer active", async () => {
    const store = h.store();
    await seedConnection(store, "tenant-a", { id: "conn_revoked", status: "active" });
    await seedConnection(store, "tenant-a", { id: "conn_future_revoked", status: "active" });
    await store.setNextRefresh("conn_revoked", START_TIME_MS - 1);
    await store.setNextRefresh("conn_future_revoked", START_TIME_MS + 60_000);
    for (const id of ["conn_revoked", "conn_future_revoked"]) {
      await store.updateConnectionStatus("tenant-a", id, "active", "revoked", "revoked_by_admin");
    }
    assert.deepEqual(await store.listDueRefreshes(START_TIME_MS, 10), []);
    assert.equal((await store.getConnection("tenant-a", "conn_revoked")).nextRefreshAtMs, null);
    assert.equal(
      (await store.getConnection("tenant-a", "conn_future_revoked")).nextRefreshAtMs,
      START_TIME_MS + 60_000,
      "rows that are not due yet are left alone",
    );
  });
}
