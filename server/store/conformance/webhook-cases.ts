/**
 * Conformance cases for webhook endpoints: tenant scoping, secret rotation with overlap, the
 * delivery lease (one owner at a time, due-ness, disabled endpoints), cursor moves fenced by the
 * lease and never backwards, the failure list written with the cursor move, and replays.
 */
import assert from "node:assert/strict";
import { NotFoundError } from "../../domain/errors.ts";
import { assertRejectsWith, collectPages, hexOf, START_TIME_MS, type StoreHarness, sealed } from "./harness.ts";

const LEASE_MS = 30_000;

async function seedEndpoint(h: StoreHarness, tenantId = "tenant-a", url = "https://hooks.example.com/a") {
  await h.store().ensureTenant({ id: tenantId });
  return h.store().createWebhookEndpoint({ tenantId, url, secret: sealed("whsec-1"), eventTypes: ["connection.active"] });
}

const failure = (seq: number) => ({
  eventId: `evt_${seq}`,
  eventType: "connection.active",
  eventSeq: seq,
  payload: { type: "connection.active", data: { connection_id: "conn_1" } },
  attemptCount: 7,
  lastError: "status 503",
  lastStatusCode: 503,
});

/** Declares the webhook cases. */
export function describeWebhookCases(h: StoreHarness): void {
  h.test("createWebhookEndpoint stores the endpoint enabled at cursor 0, readable only by its tenant", async () => {
    const created = await seedEndpoint(h);
    assert.match(created.id, /^whe_/);
    assert.equal(created.isEnabled, true);
    assert.equal(created.cursorSeq, 0);
    assert.deepEqual(created.eventTypes, ["connection.active"]);
    assert.equal(hexOf(created.secret), hexOf(sealed("whsec-1")));
    assert.equal(created.previousSecret, null);
    assert.deepEqual(await h.store().getWebhookEndpoint("tenant-a", created.id), created);
    await h.store().ensureTenant({ id: "tenant-b" });
    await assertRejectsWith(h.store().getWebhookEndpoint("tenant-b", created.id), NotFoundError, (e) =>
      assert.equal(e.kind, "webhook_endpoint"),
    );
    await assertRejectsWith(
      h.store().createWebhookEndpoint({ tenantId: "missing", url: "https://x.example", secret: sealed("s") }),
      NotFoundError,
      (e) => assert.equal(e.kind, "tenant"),
    );
  });

  h.test("listWebhookEndpoints pages the tenant's endpoints newest first", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await seedEndpoint(h, "tenant-a", `https://h${i}.example.com`)).id);
      h.clock.advance(1);
    }
    await seedEndpoint(h, "tenant-b");
    const { items } = await collectPages(2, (pageToken) => h.store().listWebhookEndpoints("tenant-a", { pageSize: 2, pageToken }));
    assert.deepEqual(
      items.map((e) => e.id),
      ids.reverse(),
    );
  });

  h.test("updateWebhookEndpoint changes only the given fields; delete removes it", async () => {
    const created = await seedEndpoint(h);
    h.clock.advance(10);
    const updated = await h.store().updateWebhookEndpoint("tenant-a", created.id, { isEnabled: false, eventTypes: [] });
    assert.equal(updated.isEnabled, false);
    assert.deepEqual(updated.eventTypes, []);
    assert.equal(updated.url, created.url);
    assert.equal(updated.updatedAtMs, START_TIME_MS + 10);
    await h.store().deleteWebhookEndpoint("tenant-a", created.id);
    await assertRejectsWith(h.store().deleteWebhookEndpoint("tenant-a", created.id), NotFoundError);
    await assertRejectsWith(h.store().updateWebhookEndpoint("tenant-a", created.id, { url: "https://x" }), NotFoundError);
  });

  h.test("rotateWebhookSecret keeps the old secret as previous until the overlap ends; a zero overlap drops it", async () => {
    const created = await seedEndpoint(h);
    const rotated = await h.store().rotateWebhookSecret("tenant-a", created.id, sealed("whsec-2"), START_TIME_MS + 1000);
    assert.equal(hexOf(rotated.secret), hexOf(sealed("whsec-2")));
    assert.equal(hexOf(rotated.previousSecret), hexOf(sealed("whsec-1")));
    assert.equal(rotated.previousSecretExpiresAtMs, START_TIME_MS + 1000);
    const again = await h.store().rotateWebhookSecret("tenant-a", created.id, sealed("whsec-3"), START_TIME_MS);
    assert.equal(hexOf(again.secret), hexOf(sealed("whsec-3")));
    assert.equal(again.previousSecret, null);
    assert.equal(again.previousSecretExpiresAtMs, null);
  });

  h.test("claimWebhookLease: one owner at a time, free again at expiry, never on a disabled endpoint", async () => {
    const { id } = await seedEndpoint(h);
    const store = h.store();
    assert.ok(await store.claimWebhookLease(id, "replica-a", LEASE_MS, START_TIME_MS));
    assert.equal(await store.claimWebhookLease(id, "replica-b", LEASE_MS, START_TIME_MS + LEASE_MS - 1), null);
    assert.deepEqual(await store.listDueWebhookEndpoints(START_TIME_MS + 1, 10), []);
    assert.ok(await store.claimWebhookLease(id, "replica-b", LEASE_MS, START_TIME_MS + LEASE_MS));
    await store.releaseWebhookLease(id, "replica-a");
    assert.equal(await store.claimWebhookLease(id, "replica-a", LEASE_MS, START_TIME_MS + LEASE_MS + 1), null);
    await store.releaseWebhookLease(id, "replica-b");
    await store.updateWebhookEndpoint("tenant-a", id, { isEnabled: false });
    assert.equal(await store.claimWebhookLease(id, "replica-a", LEASE_MS, START_TIME_MS + LEASE_MS + 2), null);
    assert.deepEqual(await store.listDueWebhookEndpoints(START_TIME_MS + LEASE_MS + 2, 10), []);
  });

  h.test("concurrent claims of one endpoint: exactly one wins", async () => {
    const { id } = await seedEndpoint(h);
    const results = await Promise.all(
      ["a", "b", "c", "d", "e"].map((owner) => h.store().claimWebhookLease(id, owner, LEASE_MS, START_TIME_MS)),
    );
    assert.equal(results.filter((r) => r !== null).length, 1);
  });

  h.test("recordWebhookRetry makes the endpoint not due until next_attempt_at; the lease fences it", async () => {
    const { id } = await seedEndpoint(h);
    const store = h.store();
    await store.claimWebhookLease(id, "replica-a", LEASE_MS, START_TIME_MS);
    const retry = { attemptCount: 1, nextAttemptAtMs: START_TIME_MS + 5000, firstFailedAtMs: START_TIME_MS, lastError: "timeout" };
    assert.equal(await store.recordWebhookRetry(id, "replica-b", retry), false);
    assert.equal(await store.recordWebhookRetry(id, "replica-a", retry), true);
    await store.releaseWebhookLease(id, "replica-a");
    assert.deepEqual(await store.listDueWebhookEndpoints(START_TIME_MS + 4999, 10), []);
    assert.equal(await store.claimWebhookLease(id, "replica-b", LEASE_MS, START_TIME_MS + 4999), null);
    const due = await store.listDueWebhookEndpoints(START_TIME_MS + 5000, 10);
    assert.deepEqual(
      due.map((e) => [e.id, e.attemptCount, e.lastError, e.firstFailedAtMs]),
      [[id, 1, "timeout", START_TIME_MS]],
    );
    assert.ok(await store.claimWebhookLease(id, "replica-b", LEASE_MS, START_TIME_MS + 5000));
  });

  h.test("a new URL or an enable makes a backed-off endpoint due at once with a fresh retry count; other changes do not", async () => {
    const { id } = await seedEndpoint(h);
    const store = h.store();
    const backOff = async () => {
      await store.claimWebhookLease(id, "replica-a", LEASE_MS, START_TIME_MS);
      const retry = {
        attemptCount: 9,
        nextAttemptAtMs: START_TIME_MS + 3_600_000,
        firstFailedAtMs: START_TIME_MS,
        lastError: "status 404",
      };
      assert.equal(await store.recordWebhookRetry(id, "replica-a", retry), true);
      await store.releaseWebhookLease(id, "replica-a");
    };
    await backOff();
    await store.updateWebhookEndpoint("tenant-a", id, { description: "d", eventTypes: [] });
    assert.deepEqual(await store.listDueWebhookEndpoints(START_TIME_MS, 10), [], "a description change keeps the backoff");
    await store.updateWebhookEndpoint("tenant-a", id, { url: "https://hooks.example.com/fixed" });
    const due = await store.listDueWebhookEndpoints(START_TIME_MS, 10);
    assert.deepEqual(
      due.map((e) => [e.id, e.attemptCount, e.nextAttemptAtMs, e.firstFailedAtMs]),
      [[id, 0, null, null]],
    );
    await backOff();
    await store.updateWebhookEndpoint("tenant-a", id, { isEnabled: false });
    await store.updateWebhookEndpoint("tenant-a", id, { isEnabled: true });
    assert.deepEqual(
      (await store.listDueWebhookEndpoints(START_TIME_MS, 10)).map((e) => [e.id, e.attemptCount]),
      [[id, 0]],
    );
  });

  h.test("advanceWebhookCursor moves forward only for the holder, clears retries, and records a failure with it", async () => {
    const { id } = await seedEndpoint(h);
    const store = h.store();
    await store.claimWebhookLease(id, "replica-a", LEASE_MS, START_TIME_MS);
    await store.recordWebhookRetry(id, "replica-a", {
      attemptCount: 3,
      nextAttemptAtMs: START_TIME_MS,
      firstFailedAtMs: 1,
      lastError: "x",
    });
    assert.equal(await store.advanceWebhookCursor(id, "replica-b", 4), false);
    assert.equal(await store.advanceWebhookCursor(id, "replica-a", 4, failure(4)), true);
    assert.equal(await store.advanceWebhookCursor(id, "replica-a", 4, failure(4)), false, "not twice");
    assert.equal(await store.advanceWebhookCursor(id, "replica-a", 3), false, "never backwards");
    const endpoint = await store.getWebhookEndpoint("tenant-a", id);
    assert.deepEqual([endpoint.cursorSeq, endpoint.attemptCount, endpoint.nextAttemptAtMs, endpoint.lastError], [4, 0, null, null]);
    const page = await store.listWebhookDeliveries("tenant-a", id, {});
    assert.equal(page.items.length, 1);
    const [delivery] = page.items;
    assert.match(delivery!.id, /^whd_/);
    assert.deepEqual(
      [delivery!.eventId, delivery!.eventSeq, delivery!.attemptCount, delivery!.lastStatusCode, delivery!.replayedAtMs],
      ["evt_4", 4, 7, 503, null],
    );
    assert.deepEqual(delivery!.payload, failure(4).payload);
  });

  h.test("recordWebhookReplay counts the attempt and records success; deliveries are scoped to their endpoint", async () => {
    const { id } = await seedEndpoint(h);
    const other = await seedEndpoint(h, "tenant-a", "https://other.example.com");
    const store = h.store();
    await store.claimWebhookLease(id, "replica-a", LEASE_MS, START_TIME_MS);
    await store.advanceWebhookCursor(id, "replica-a", 1, failure(1));
    const [delivery] = (await store.listWebhookDeliveries("tenant-a", id, {})).items;
    const failed = await store.recordWebhookReplay("tenant-a", id, delivery!.id, {
      isDelivered: false,
      lastError: "timeout",
      lastStatusCode: null,
    });
    assert.deepEqual([failed.attemptCount, failed.lastError, failed.lastStatusCode, failed.replayedAtMs], [8, "timeout", null, null]);
    h.clock.advance(7);
    const ok = await store.recordWebhookReplay("tenant-a", id, delivery!.id, { isDelivered: true, lastError: null, lastStatusCode: 200 });
    assert.deepEqual([ok.attemptCount, ok.lastError, ok.lastStatusCode, ok.replayedAtMs], [9, null, 200, START_TIME_MS + 7]);
    await assertRejectsWith(store.getWebhookDelivery("tenant-a", other.id, delivery!.id), NotFoundError, (e) =>
      assert.equal(e.kind, "webhook_delivery"),
    );
    await assertRejectsWith(store.listWebhookDeliveries("tenant-b", id, {}), NotFoundError, (e) =>
      assert.equal(e.kind, "webhook_endpoint"),
    );
    await store.deleteWebhookEndpoint("tenant-a", id);
    await assertRejectsWith(store.getWebhookDelivery("tenant-a", id, delivery!.id), NotFoundError);
  });

  h.test("key rotation finds webhook secrets (current and previous) under old keys and swaps them compare-and-set", async () => {
    const store = h.store();
    await store.ensureTenant({ id: "tenant-a" });
    const endpoint = await store.createWebhookEndpoint({ tenantId: "tenant-a", url: "https://h.example.com", secret: sealed("s1", "old") });
    await store.rotateWebhookSecret("tenant-a", endpoint.id, sealed("s2", "old"), START_TIME_MS + 60_000);
    await store.createWebhookEndpoint({ tenantId: "tenant-a", url: "https://h2.example.com", secret: sealed("s3", "new") });
    assert.deepEqual(await store.countSealedByKey(), { old: 2, new: 1 });
    const stale = await store.listStaleSealed("new", 10);
    assert.deepEqual(
      stale.map((r) => [r.kind, r.id]),
      [
        ["webhook_secret", endpoint.id],
        ["webhook_previous_secret", endpoint.id],
      ],
    );
    const [current, previous] = stale;
    // A concurrent rotation wins over the key rotation's swap.
    await store.rotateWebhookSecret("tenant-a", endpoint.id, sealed("s4", "old"), START_TIME_MS + 60_000);
    assert.equal(await store.replaceSealed(current!, sealed("re-s2", "new")), false);
    assert.equal(await store.replaceSealed(previous!, sealed("re-s1", "new")), false);
    for (const ref of await store.listStaleSealed("new", 10))
      assert.equal(await store.replaceSealed(ref, sealed(`re-${ref.kind}`, "new")), true);
    assert.deepEqual(await store.listStaleSealed("new", 10), []);
    assert.deepEqual(await store.countSealedByKey(), { new: 3 });
    const after = await store.getWebhookEndpoint("tenant-a", endpoint.id);
    assert.equal(hexOf(after.secret), hexOf(sealed("re-webhook_secret")));
    assert.equal(hexOf(after.previousSecret), hexOf(sealed("re-webhook_previous_secret")));
  });

  h.test("oldestWebhookCursorSeq is the lowest cursor of the enabled endpoints, null without any", async () => {
    const store = h.store();
    assert.equal(await store.oldestWebhookCursorSeq(), null);
    await store.ensureTenant({ id: "tenant-a" });
    const low = await store.createWebhookEndpoint({
      tenantId: "tenant-a",
      url: "https://a.example.com",
      secret: sealed("a"),
      cursorSeq: 7,
    });
    await store.createWebhookEndpoint({ tenantId: "tenant-a", url: "https://b.example.com", secret: sealed("b"), cursorSeq: 12 });
    assert.equal(await store.oldestWebhookCursorSeq(), 7);
    await store.updateWebhookEndpoint("tenant-a", low.id, { isEnabled: false });
    assert.equal(await store.oldestWebhookCursorSeq(), 12);
  });

  h.test("listDueWebhookEndpoints pages oldest first with `after`", async () => {
    const store = h.store();
    await store.ensureTenant({ id: "tenant-a" });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await store.createWebhookEndpoint({ tenantId: "tenant-a", url: `https://h${i}.example.com`, secret: sealed("s") })).id);
      if (i !== 2) h.clock.advance(1); // two endpoints share a creation time: the id breaks the tie
    }
    const seen: string[] = [];
    let after: { createdAtMs: number; id: string } | undefined;
    for (;;) {
      const page = await store.listDueWebhookEndpoints(h.clock.now(), 2, after);
      seen.push(...page.map((e) => e.id));
      if (page.length < 2) break;
      after = { createdAtMs: page.at(-1)!.createdAtMs, id: page.at(-1)!.id };
    }
    assert.deepEqual(seen.sort(), [...ids].sort());
    assert.equal(new Set(seen).size, 5);
  });
}
