/**
 * Conformance cases for finding abandoned consents: pending connections not updated since a time,
 * across tenants, oldest first, limited — and nothing that is not pending.
 */
import assert from "node:assert/strict";
import { START_TIME_MS, type StoreHarness, seedConnection } from "./harness.ts";

/** Declares the stale-pending cases. */
export function describeStalePendingCases(h: StoreHarness): void {
  h.test("listStalePending finds pending connections older than the cut-off, oldest first", async () => {
    const store = h.store();
    const old1 = await seedConnection(store, "tenant-a");
    h.clock.advance(10);
    const old2 = await seedConnection(store, "tenant-b");
    const activeOld = await seedConnection(store, "tenant-a", { status: "active" });
    h.clock.advance(1000);
    const fresh = await seedConnection(store, "tenant-a");
    const cutOff = START_TIME_MS + 500;

    assert.deepEqual(
      (await store.listStalePending(cutOff, 10)).map((c) => c.id),
      [old1.id, old2.id],
    );
    assert.deepEqual(
      (await store.listStalePending(cutOff, 1)).map((c) => c.id),
      [old1.id],
    );
    assert.ok(!(await store.listStalePending(START_TIME_MS + 5000, 10)).some((c) => c.id === activeOld.id));
    assert.ok((await store.listStalePending(START_TIME_MS + 5000, 10)).some((c) => c.id === fresh.id));

    // A status change counts as an update: a connection moved back to pending is fresh again.
    await store.updateConnectionStatus("tenant-a", old1.id, "pending", "failed", "access_denied");
    assert.deepEqual(
      (await store.listStalePending(cutOff, 10)).map((c) => c.id),
      [old2.id],
    );
  });
}
