/**
 * Conformance cases for the connection event log: every committed connection change appends
 * exactly one event in its transaction (none for a write that failed), events carry only the
 * non-secret snapshot, reads are ascending by seq with tenant / connection / cursor filters, and
 * retention prunes a prefix while remembering, per tenant, how far it went.
 */
import assert from "node:assert/strict";
import type { ConnectionStatus } from "../../domain/connection-status.ts";
import { ConflictError, NotFoundError } from "../../domain/errors.ts";
import type { ConnectionEventRecord } from "../store.ts";
import { assertRejectsWith, START_TIME_MS, type StoreHarness, seedConnection } from "./harness.ts";

/** The only keys a snapshot may have: adding one is a deliberate, reviewed change. */
const SNAPSHOT_KEYS = [
  "createdAtMs",
  "credentialExpiresAtSeconds",
  "credentialVersion",
  "id",
  "params",
  "providerName",
  "scopes",
  "status",
  "statusReason",
  "tenantId",
  "updatedAtMs",
  "userId",
];

/** Every event of every tenant, in log order. */
async function allEvents(h: StoreHarness, afterSeq = 0): Promise<ConnectionEventRecord[]> {
  return h.store().listConnectionEvents({ tenantId: null, afterSeq, limit: 1000 });
}

/** Declares the connection event cases. */
export function describeConnectionEventCases(h: StoreHarness): void {
  h.test("an empty log lists nothing and its latest seq is 0", async () => {
    assert.deepEqual(await allEvents(h), []);
    assert.equal(await h.store().latestConnectionEventSeq(null), 0);
    assert.equal(await h.store().latestConnectionEventSeq("tenant-a"), 0);
    assert.equal(await h.store().connectionEventsPrunedThrough(null), 0);
  });

  h.test("createConnection appends one created event with the non-secret snapshot", async () => {
    const connection = await seedConnection(h.store(), "tenant-a", {
      scopes: ["openid", "email"],
      params: { shop: "acme" },
      returnUrl: "https://app.example/done",
    });
    const events = await allEvents(h);
    assert.equal(events.length, 1);
    const [event] = events;
    assert.ok(event);
    assert.ok(event.seq > 0);
    assert.match(event.eventId, /^evt_[0-9A-Za-z]+$/);
    assert.equal(event.type, "created");
    assert.equal(event.tenantId, "tenant-a");
    assert.equal(event.connectionId, connection.id);
    assert.equal(event.occurredAtMs, START_TIME_MS);
    assert.deepEqual(event.connection, {
      id: connection.id,
      tenantId: "tenant-a",
      userId: "user-1",
      providerName: "google",
      status: "pending",
      statusReason: null,
      scopes: ["openid", "email"],
      params: { shop: "acme" },
      createdAtMs: START_TIME_MS,
      updatedAtMs: START_TIME_MS,
      credentialVersion: 0,
      credentialExpiresAtSeconds: null,
    });
    assert.deepEqual(Object.keys(event.connection).sort(), SNAPSHOT_KEYS, "no return URL, no refresh schedule");
    assert.equal(await h.store().latestConnectionEventSeq("tenant-a"), event.seq);
  });

  h.test("every status move appends exactly one event of its type, in commit order", async () => {
    const store = h.store();
    const c = await seedConnection(store, "tenant-a");
    // Each status of the path is reached from the one before it (the first from pending).
    const path = "active attention_required pending active expired pending failed pending expired revoked".split(" ") as ConnectionStatus[];
    let from: ConnectionStatus = c.status;
    for (const to of path) {
      h.clock.advance(10);
      await store.updateConnectionStatus("tenant-a", c.id, from, to, to === "revoked" ? "revoked_by_api" : null);
      from = to;
    }
    const events = await allEvents(h);
    assert.deepEqual(
      events.map((e) => e.type),
      ["created", ...path],
    );
    for (let i = 1; i < events.length; i += 1) assert.ok(events[i]!.seq > events[i - 1]!.seq, "seq increases");
    assert.equal(new Set(events.map((e) => e.eventId)).size, events.length, "event ids are unique");
    const last = events.at(-1)!;
    assert.equal(last.connection.status, "revoked");
    assert.equal(last.connection.statusReason, "revoked_by_api");
    assert.equal(last.occurredAtMs, START_TIME_MS + 100);
    assert.equal(last.connection.updatedAtMs, START_TIME_MS + 100);
  });

  h.test("a status move carries its scope change in the snapshot", async () => {
    const store = h.store();
    const c = await seedConnection(store, "tenant-a", { scopes: ["a"] });
    await store.updateConnectionStatus("tenant-a", c.id, "pending", "active", null, { scopes: ["a", "b"], returnUrl: null });
    const [, active] = await allEvents(h);
    assert.equal(active?.type, "active");
    assert.deepEqual(active?.connection.scopes, ["a", "b"]);
  });

  h.test("writes that fail append no event", async () => {
    const store = h.store();
    const c = await seedConnection(store, "tenant-a");
    const before = await allEvents(h);
    await assertRejectsWith(store.updateConnectionStatus("tenant-a", c.id, "active", "expired", null), ConflictError);
    await assertRejectsWith(store.updateConnectionStatus("tenant-b", c.id, "pending", "active", null), NotFoundError);
    await assertRejectsWith(store.updateConnectionStatus("tenant-a", "conn_missing", "pending", "active", null), NotFoundError);
    await assert.rejects(store.updateConnectionStatus("tenant-a", c.id, "revoked", "active", null), { name: "IllegalTransitionError" });
    await assert.rejects(store.createConnection({ id: c.id, tenantId: "tenant-a", userId: "u", providerName: "google" }));
    await assertRejectsWith(store.createConnection({ tenantId: "no-such-tenant", userId: "u", providerName: "google" }), NotFoundError);
    assert.deepEqual(await allEvents(h), before);
  });

  h.test("listConnectionEvents filters by tenant, connection and cursor, ascending and limited", async () => {
    const store = h.store();
    const a1 = await seedConnection(store, "tenant-a");
    const b1 = await seedConnection(store, "tenant-b");
    const a2 = await seedConnection(store, "tenant-a");
    await store.updateConnectionStatus("tenant-a", a1.id, "pending", "active", null);
    await store.updateConnectionStatus("tenant-b", b1.id, "pending", "failed", "access_denied");
    const all = await allEvents(h);
    assert.equal(all.length, 5);

    const ofA = await store.listConnectionEvents({ tenantId: "tenant-a", afterSeq: 0, limit: 100 });
    assert.deepEqual(
      ofA.map((e) => [e.connectionId, e.type]),
      [
        [a1.id, "created"],
        [a2.id, "created"],
        [a1.id, "active"],
      ],
    );
    assert.ok(ofA.every((e) => e.tenantId === "tenant-a" && e.connection.tenantId === "tenant-a"));

    const ofB = await store.listConnectionEvents({ tenantId: "tenant-b", afterSeq: 0, limit: 100 });
    assert.deepEqual(
      ofB.map((e) => e.type),
      ["created", "failed"],
    );
    assert.equal(ofB[1]?.connection.statusReason, "access_denied");

    const afterFirst = await store.listConnectionEvents({ tenantId: "tenant-a", afterSeq: ofA[0]!.seq, limit: 100 });
    assert.deepEqual(
      afterFirst.map((e) => e.seq),
      ofA.slice(1).map((e) => e.seq),
    );
    const limited = await store.listConnectionEvents({ tenantId: null, afterSeq: 0, limit: 2 });
    assert.deepEqual(limited, all.slice(0, 2));
    const oneConnection = await store.listConnectionEvents({ tenantId: "tenant-a", afterSeq: 0, limit: 100, connectionId: a1.id });
    assert.deepEqual(
      oneConnection.map((e) => e.type),
      ["created", "active"],
    );
    // A connection id of another tenant reads as no events.
    assert.deepEqual(await store.listConnectionEvents({ tenantId: "tenant-a", afterSeq: 0, limit: 100, connectionId: b1.id }), []);
    assert.deepEqual(await store.listConnectionEvents({ tenantId: null, afterSeq: all.at(-1)!.seq, limit: 100 }), []);

    assert.equal(await store.latestConnectionEventSeq(null), all.at(-1)!.seq);
    assert.equal(await store.latestConnectionEventSeq("tenant-a"), ofA.at(-1)!.seq);
    assert.equal(await store.latestConnectionEventSeq("tenant-b"), ofB.at(-1)!.seq);
    assert.equal(await store.latestConnectionEventSeq("tenant-c"), 0);
  });

  h.test("deleteConnectionEventsBefore prunes a prefix by age and remembers how far per tenant", async () => {
    const store = h.store();
    const a = await seedConnection(store, "tenant-a"); // t0
    h.clock.advance(100);
    const b = await seedConnection(store, "tenant-b"); // t0+100
    h.clock.advance(100);
    await store.updateConnectionStatus("tenant-a", a.id, "pending", "active", null); // t0+200
    const [aCreated, bCreated, aActive] = await allEvents(h);
    assert.ok(aCreated && bCreated && aActive);

    assert.equal(await store.deleteConnectionEventsBefore(new Date(START_TIME_MS)), 0, "nothing is older than the cut-off");
    assert.equal(await store.connectionEventsPrunedThrough(null), 0);

    assert.equal(await store.deleteConnectionEventsBefore(new Date(START_TIME_MS + 150)), 2);
    assert.deepEqual(await allEvents(h), [aActive]);
    assert.equal(await store.connectionEventsPrunedThrough("tenant-a"), aCreated.seq);
    assert.equal(await store.connectionEventsPrunedThrough("tenant-b"), bCreated.seq);
    assert.equal(await store.connectionEventsPrunedThrough("tenant-c"), 0);
    assert.equal(await store.connectionEventsPrunedThrough(null), bCreated.seq);
    // The tenant's latest seq never drops below what was pruned: "from now" stays a valid cursor.
    assert.equal(await store.latestConnectionEventSeq("tenant-b"), bCreated.seq);
    assert.equal(await store.latestConnectionEventSeq("tenant-a"), aActive.seq);

    // Seqs keep increasing after pruning.
    await store.updateConnectionStatus("tenant-b", b.id, "pending", "active", null);
    const [, bActive] = await allEvents(h);
    assert.ok(bActive && bActive.seq > aActive.seq);
    assert.equal(await store.latestConnectionEventSeq("tenant-b"), bActive.seq);
  });

  h.test("deleteConnectionEventsBefore keeps events after keepAfterSeq", async () => {
    const store = h.store();
    const a = await seedConnection(store, "tenant-a");
    await store.updateConnectionStatus("tenant-a", a.id, "pending", "active", null);
    await store.updateConnectionStatus("tenant-a", a.id, "active", "revoked", "revoked_by_api");
    const events = await allEvents(h);
    assert.equal(events.length, 3);
    h.clock.advance(1000);
    const cutoff = new Date(h.clock.now());
    assert.equal(await store.deleteConnectionEventsBefore(cutoff, events[0]!.seq), 1);
    assert.deepEqual(await allEvents(h), events.slice(1));
    assert.equal(await store.deleteConnectionEventsBefore(cutoff, 0), 0, "keepAfterSeq 0 keeps everything");
    assert.equal(await store.deleteConnectionEventsBefore(cutoff), 2);
    assert.deepEqual(await allEvents(h), []);
    assert.equal(await store.connectionEventsPrunedThrough("tenant-a"), events[2]!.seq);
    assert.equal(await store.latestConnectionEventSeq("tenant-a"), events[2]!.seq);
    // The record only moves forward.
    assert.equal(await store.deleteConnectionEventsBefore(cutoff), 0);
    assert.equal(await store.connectionEventsPrunedThrough("tenant-a"), events[2]!.seq);
  });
}
