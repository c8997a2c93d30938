/**
 * Conformance cases for refresh leases: who may claim when, release by owner only, renewal, the
 * interruption mark of a holder that died mid-call, and that a lease never stands in for the
 * credential version compare-and-set. The due list is refresh-schedule-cases.ts's.
 */
import assert from "node:assert/strict";
import { ConflictError, NotFoundError } from "../../domain/errors.ts";
import { assertRejectsWith, START_TIME_MS, type StoreHarness, sealed, seedConnection } from "./harness.ts";

/** The lease length the lease and schedule cases claim with. */
export const LEASE_MS = 30_000;

/** Declares the refresh-lease cases. */
export function describeLeaseCases(h: StoreHarness): void {
  h.test("claimRefreshLease on a free lease returns the credential version", async () => {
    const connection = await seedConnection(h.store(), "tenant-a", { status: "active" });
    await h.store().saveCredential(connection.id, 0, { secret: sealed("one"), expiresAtSeconds: 10 });
    assert.deepEqual(await h.store().claimRefreshLease(connection.id, "replica-a", LEASE_MS, START_TIME_MS), {
      credentialVersion: 1,
      wasInterrupted: false,
    });
  });

  h.test("claimRefreshLease is null for another owner while the lease runs, and free at its expiry", async () => {
    const { id } = await seedConnection(h.store(), "tenant-a", { status: "active" });
    const store = h.store();
    assert.ok(await store.claimRefreshLease(id, "replica-a", LEASE_MS, START_TIME_MS));
    assert.equal(await store.claimRefreshLease(id, "replica-b", LEASE_MS, START_TIME_MS + LEASE_MS - 1), null);
    assert.deepEqual(await store.claimRefreshLease(id, "replica-b", LEASE_MS, START_TIME_MS + LEASE_MS), {
      credentialVersion: 0,
      wasInterrupted: false,
    });
    assert.equal(await store.claimRefreshLease(id, "replica-a", LEASE_MS, START_TIME_MS + LEASE_MS + 1), null);
  });

  h.test("claimRefreshLease by the holder extends its own lease", async () => {
    const { id } = await seedConnection(h.store(), "tenant-a", { status: "active" });
    const store = h.store();
    assert.ok(await store.claimRefreshLease(id, "replica-a", LEASE_MS, START_TIME_MS));
    assert.ok(await store.claimRefreshLease(id, "replica-a", LEASE_MS, START_TIME_MS + 20_000));
    // Extended to START + 20 s + 30 s: another owner is still refused after the first lease's end.
    assert.equal(await store.claimRefreshLease(id, "replica-b", LEASE_MS, START_TIME_MS + 40_000), null);
    assert.ok(await store.claimRefreshLease(id, "replica-b", LEASE_MS, START_TIME_MS + 50_000));
  });

  h.test("claimRefreshLease of a missing connection is NotFound", async () => {
    await assertRejectsWith(h.store().claimRefreshLease("conn_missing", "replica-a", LEASE_MS, START_TIME_MS), NotFoundError, (error) =>
      assert.equal(error.kind, "connection"),
    );
  });

  h.test("claimRefreshLease leaves the connection record unchanged", async () => {
    const connection = await seedConnection(h.store(), "tenant-a", { status: "active" });
    h.clock.advance(500);
    await h.store().claimRefreshLease(connection.id, "replica-a", LEASE_MS, START_TIME_MS + 500);
    assert.deepEqual(await h.store().getConnection("tenant-a", connection.id), connection);
  });

  h.test("releaseRefreshLease frees only the owner's lease and is idempotent", async () => {
    const { id } = await seedConnection(h.store(), "tenant-a", { status: "active" });
    const store = h.store();
    assert.ok(await store.claimRefreshLease(id, "replica-a", LEASE_MS, START_TIME_MS));
    await store.releaseRefreshLease(id, "replica-b");
    assert.equal(await store.claimRefreshLease(id, "replica-b", LEASE_MS, START_TIME_MS), null, "a stranger can't release");
    await store.releaseRefreshLease(id, "replica-a");
    await store.releaseRefreshLease(id, "replica-a");
    await store.releaseRefreshLease("conn_missing", "replica-a");
    assert.ok(await store.claimRefreshLease(id, "replica-b", LEASE_MS, START_TIME_MS));
  });

  h.test("saveCredential with releaseLeaseOf frees the holder's lease and its calling mark in the same write", async () => {
    const { id } = await seedConnection(h.store(), "tenant-a", { status: "active" });
    const store = h.store();
    assert.ok(await store.claimRefreshLease(id, "replica-a", LEASE_MS, START_TIME_MS));
    assert.equal(await store.renewRefreshLease(id, "replica-a", LEASE_MS, START_TIME_MS, { isCalling: true }), true);
    const saved = await store.saveCredential(id, 0, { secret: sealed("one"), expiresAtSeconds: 10, releaseLeaseOf: "replica-a" });
    assert.equal(saved.version, 1);
    // Free at once, and no interrupted call is reported to the next holder.
    assert.deepEqual(await store.claimRefreshLease(id, "replica-b", LEASE_MS, START_TIME_MS), {
      credentialVersion: 1,
      wasInterrupted: false,
    });
  });

  h.test("saveCredential with releaseLeaseOf leaves another owner's lease alone, and still saves", async () => {
    const { id } = await seedConnection(h.store(), "tenant-a", { status: "active" });
    const store = h.store();
    assert.ok(await store.claimRefreshLease(id, "replica-a", LEASE_MS, START_TIME_MS));
    const saved = await store.saveCredential(id, 0, { secret: sealed("one"), expiresAtSeconds: 10, releaseLeaseOf: "replica-b" });
    assert.equal(saved.version, 1);
    assert.equal(await store.claimRefreshLease(id, "replica-c", LEASE_MS, START_TIME_MS + 1), null, "replica-a still holds it");
    // A version conflict frees nothing either.
    await assertRejectsWith(
      store.saveCredential(id, 0, { secret: sealed("two"), expiresAtSeconds: 10, releaseLeaseOf: "replica-a" }),
      ConflictError,
    );
    assert.equal(await store.claimRefreshLease(id, "replica-c", LEASE_MS, START_TIME_MS + 1), null);
  });

  h.test("renewRefreshLease extends the holder's lease only, and fails once another owner took it", async () => {
    const { id } = await seedConnection(h.store(), "tenant-a", { status: "active" });
    const store = h.store();
    assert.ok(await store.claimRefreshLease(id, "replica-a", LEASE_MS, START_TIME_MS));
    assert.equal(await store.renewRefreshLease(id, "replica-b", LEASE_MS, START_TIME_MS + 1000), false, "a stranger can't renew");
    assert.equal(await store.renewRefreshLease(id, "replica-a", LEASE_MS, START_TIME_MS + 20_000), true);
    assert.equal(
      await store.claimRefreshLease(id, "replica-b", LEASE_MS, START_TIME_MS + LEASE_MS + 1),
      null,
      "renewed past the first end",
    );
    // Expired but untaken: still the holder's to renew.
    assert.equal(await store.renewRefreshLease(id, "replica-a", LEASE_MS, START_TIME_MS + 60_000), true);
    assert.ok(await store.claimRefreshLease(id, "replica-b", LEASE_MS, START_TIME_MS + 90_000));
    assert.equal(await store.renewRefreshLease(id, "replica-a", LEASE_MS, START_TIME_MS + 90_001), false, "taken over");
    assert.equal(await store.renewRefreshLease("conn_missing", "replica-a", LEASE_MS, START_TIME_MS), false);
  });

  h.test("a lease taken over from a holder that was calling the provider reports the interruption", async () => {
    const { id } = await seedConnection(h.store(), "tenant-a", { status: "active" });
    const store = h.store();
    const at = (ms: number) => START_TIME_MS + ms;
    assert.deepEqual(await store.claimRefreshLease(id, "replica-a", LEASE_MS, at(0)), { credentialVersion: 0, wasInterrupted: false });
    assert.equal(await store.renewRefreshLease(id, "replica-a", LEASE_MS, at(10), { isCalling: true }), true);
    assert.equal((await store.getConnection("tenant-a", id)).nextRefreshAtMs, at(10) + LEASE_MS, "retry due when the lease ends");
    assert.deepEqual(
      await store.claimRefreshLease(id, "replica-a", LEASE_MS, at(20)),
      { credentialVersion: 0, wasInterrupted: false },
      "its own mark",
    );
    // replica-a dies mid-call: whoever takes over hears of it, and so does the next taker if it dies too.
    assert.deepEqual(await store.claimRefreshLease(id, "replica-b", LEASE_MS, at(20 + LEASE_MS)), {
      credentialVersion: 0,
      wasInterrupted: true,
    });
    assert.deepEqual(await store.claimRefreshLease(id, "replica-c", LEASE_MS, at(20 + 2 * LEASE_MS)), {
      credentialVersion: 0,
      wasInterrupted: true,
    });
    await store.releaseRefreshLease(id, "replica-c");
    assert.deepEqual(
      await store.claimRefreshLease(id, "replica-b", LEASE_MS, at(20 + 2 * LEASE_MS)),
      { credentialVersion: 0, wasInterrupted: false },
      "released: clean",
    );
  });

  h.test("a lease that expired without a provider call in flight is not an interruption", async () => {
    const { id } = await seedConnection(h.store(), "tenant-a", { status: "active" });
    const store = h.store();
    assert.ok(await store.claimRefreshLease(id, "replica-a", LEASE_MS, START_TIME_MS));
    assert.equal(await store.renewRefreshLease(id, "replica-a", LEASE_MS, START_TIME_MS + 10), true);
    assert.deepEqual(await store.claimRefreshLease(id, "replica-b", LEASE_MS, START_TIME_MS + 10 + LEASE_MS), {
      credentialVersion: 0,
      wasInterrupted: false,
    });
  });

  h.test("a holder that died mid-call becomes due for the scheduler when its lease runs out", async () => {
    const { id } = await seedConnection(h.store(), "tenant-a", { status: "active" });
    const store = h.store();
    assert.ok(await store.claimRefreshLease(id, "replica-a", LEASE_MS, START_TIME_MS));
    await store.renewRefreshLease(id, "replica-a", LEASE_MS, START_TIME_MS, { isCalling: true });
    assert.deepEqual(await store.listDueRefreshes(START_TIME_MS + LEASE_MS - 1, 10), []);
    assert.deepEqual(
      (await store.listDueRefreshes(START_TIME_MS + LEASE_MS, 10)).map((c) => c.id),
      [id],
    );
  });

  h.test("a lease is not a fence: saveCredential stays compare-and-set on the version", async () => {
    const { id } = await seedConnection(h.store(), "tenant-a", { status: "active" });
    const store = h.store();
    // replica-a claims at version 0, its lease runs out, replica-b claims and saves version 1.
    assert.deepEqual(await store.claimRefreshLease(id, "replica-a", LEASE_MS, START_TIME_MS), {
      credentialVersion: 0,
      wasInterrupted: false,
    });
    assert.ok(await store.claimRefreshLease(id, "replica-b", LEASE_MS, START_TIME_MS + LEASE_MS));
    await store.saveCredential(id, 0, { secret: sealed("from-b"), expiresAtSeconds: 100 });
    // The stale holder's write, fenced by the version it read, is refused.
    await assertRejectsWith(store.saveCredential(id, 0, { secret: sealed("from-a"), expiresAtSeconds: 100 }), ConflictError);
    assert.equal((await store.getCredential(id))?.version, 1);
  });
}
