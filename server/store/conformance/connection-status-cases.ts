/**
 * Conformance cases for connection status changes: compare-and-set against one or several expected
 * statuses, the transition table enforced before any write, tenant scoping, the changes a status
 * write carries, and exactly one winner among concurrent writers.
 */
import assert from "node:assert/strict";
import { IllegalTransitionError } from "../../domain/connection-status.ts";
import { ConflictError, NotFoundError } from "../../domain/errors.ts";
import { assertRejectsWith, START_TIME_MS, type StoreHarness, seedConnection } from "./harness.ts";

/** Declares the connection status-change cases. */
export function describeConnectionStatusCases(h: StoreHarness): void {
  h.test("updateConnectionStatus moves the status and records the reason", async () => {
    const created = await seedConnection(h.store(), "tenant-a");
    h.clock.advance(1500);
    const failed = await h.store().updateConnectionStatus("tenant-a", created.id, "pending", "failed", "access_denied");
    assert.equal(failed.status, "failed");
    assert.equal(failed.statusReason, "access_denied");
    assert.equal(failed.updatedAtMs, START_TIME_MS + 1500);
    assert.equal(failed.createdAtMs, START_TIME_MS);
    assert.deepEqual(await h.store().getConnection("tenant-a", created.id), failed);
    const retried = await h.store().updateConnectionStatus("tenant-a", created.id, "failed", "pending", null);
    assert.equal(retried.statusReason, null);
  });

  h.test("updateConnectionStatus accepts any of several expected statuses", async () => {
    const created = await seedConnection(h.store(), "tenant-a", { status: "expired" });
    const updated = await h
      .store()
      .updateConnectionStatus("tenant-a", created.id, ["attention_required", "expired", "failed"], "pending", null);
    assert.equal(updated.status, "pending");
  });

  h.test("updateConnectionStatus with an unexpected status is a Conflict and changes nothing", async () => {
    const created = await seedConnection(h.store(), "tenant-a", { status: "revoked", statusReason: "revoked_by_admin" });
    await assertRejectsWith(
      h.store().updateConnectionStatus("tenant-a", created.id, ["pending", "attention_required"], "active", null),
      ConflictError,
    );
    assert.deepEqual(await h.store().getConnection("tenant-a", created.id), created);
  });

  h.test("updateConnectionStatus refuses a move the transition table forbids, before writing", async () => {
    const created = await seedConnection(h.store(), "tenant-a", { status: "revoked", statusReason: "revoked_by_admin" });
    // revoked → pending is forbidden even though the row is in the expected status.
    await assertRejectsWith(
      h.store().updateConnectionStatus("tenant-a", created.id, "revoked", "pending", null),
      IllegalTransitionError,
      (error) => assert.deepEqual([error.from, error.to], ["revoked", "pending"]),
    );
    // One forbidden start in the expected set refuses the whole write (active → active is no move).
    const active = await seedConnection(h.store(), "tenant-a", { status: "active" });
    await assertRejectsWith(
      h.store().updateConnectionStatus("tenant-a", active.id, ["pending", "active"], "active", null),
      IllegalTransitionError,
    );
    assert.deepEqual(await h.store().getConnection("tenant-a", created.id), created);
    assert.deepEqual(await h.store().getConnection("tenant-a", active.id), active);
  });

  h.test("updateConnectionStatus of another tenant's connection is NotFound and changes nothing", async () => {
    const created = await seedConnection(h.store(), "tenant-a");
    await h.store().ensureTenant({ id: "tenant-b" });
    await assertRejectsWith(
      h.store().updateConnectionStatus("tenant-b", created.id, "pending", "revoked", "revoked_by_api"),
      NotFoundError,
      (error) => assert.equal(error.kind, "connection"),
    );
    await assertRejectsWith(h.store().updateConnectionStatus("tenant-a", "conn_missing", "pending", "revoked", null), NotFoundError);
    assert.deepEqual(await h.store().getConnection("tenant-a", created.id), created);
  });

  h.test("updateConnectionStatus applies scopes, return URL and next refresh time", async () => {
    const created = await seedConnection(h.store(), "tenant-a", { scopes: ["a"], returnUrl: "https://one.example/" });
    const updated = await h.store().updateConnectionStatus("tenant-a", created.id, "pending", "active", null, {
      scopes: ["a", "b"],
      nextRefreshAtMs: START_TIME_MS + 60_000,
    });
    assert.deepEqual(updated.scopes, ["a", "b"]);
    assert.equal(updated.returnUrl, "https://one.example/", "absent fields are kept");
    assert.equal(updated.nextRefreshAtMs, START_TIME_MS + 60_000);
    const cleared = await h.store().updateConnectionStatus("tenant-a", created.id, "active", "pending", null, {
      returnUrl: null,
      nextRefreshAtMs: null,
    });
    assert.equal(cleared.returnUrl, null);
    assert.equal(cleared.nextRefreshAtMs, null);
    assert.deepEqual(cleared.scopes, ["a", "b"]);
  });

  h.test("concurrent updateConnectionStatus calls from one status: exactly one wins", async () => {
    const created = await seedConnection(h.store(), "tenant-a");
    const results = await Promise.allSettled([
      h.store().updateConnectionStatus("tenant-a", created.id, "pending", "active", null),
      h.store().updateConnectionStatus("tenant-a", created.id, "pending", "failed", "access_denied"),
    ]);
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r) => r.status === "rejected");
    assert.equal(won.length, 1);
    assert.equal(lost.length, 1);
    assert.ok(lost[0]?.status === "rejected" && lost[0].reason instanceof ConflictError);
  });
}
