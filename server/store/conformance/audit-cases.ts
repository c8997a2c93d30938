/**
 * Conformance cases for the audit log: batch appends keep order, filters, paging, and pruning that
 * never lets ids go backwards.
 */
import assert from "node:assert/strict";
import type { AuditEventFilter, AuditEventInput } from "../store.ts";
import { collectPages, START_TIME_MS, type StoreHarness } from "./harness.ts";

function event(n: number, overrides: Partial<AuditEventInput> = {}): AuditEventInput {
  return { timeMs: START_TIME_MS + n, action: "token.read", result: "ok", ...overrides };
}

/** Declares the audit cases. */
export function describeAuditCases(h: StoreHarness): void {
  h.test("appendAuditEvents stores a batch in order and lists it newest first", async () => {
    await h.store().appendAuditEvents([
      event(1, {
        keyId: "key_1",
        tenantId: "tenant-a",
        connectionId: "conn_1",
        requestId: "req-1",
        clientAddress: "203.0.113.7",
        details: { provider: "google", version: "4" },
      }),
      event(2, { action: "connection.revoke", result: "not_found" }),
    ]);
    const { items, nextPageToken } = await h.store().listAuditEvents({}, {});
    assert.equal(nextPageToken, "");
    assert.equal(items.length, 2);
    const [newest, oldest] = items;
    assert.ok(newest && oldest && newest.id > oldest.id);
    assert.deepEqual(oldest, {
      id: oldest.id,
      timeMs: START_TIME_MS + 1,
      action: "token.read",
      result: "ok",
      keyId: "key_1",
      tenantId: "tenant-a",
      connectionId: "conn_1",
      requestId: "req-1",
      clientAddress: "203.0.113.7",
      details: { provider: "google", version: "4" },
    });
    assert.deepEqual(newest, {
      id: newest.id,
      timeMs: START_TIME_MS + 2,
      action: "connection.revoke",
      result: "not_found",
      keyId: null,
      tenantId: null,
      connectionId: null,
      requestId: null,
      clientAddress: null,
      details: {},
    });
  });

  h.test("appendAuditEvents keeps text exactly: quotes, backslashes, non-ASCII, JSON-like values", async () => {
    const text = 'a "quoted" \\ back\nslash, é, 日本, 😀, {"json": [1]}, null';
    await h
      .store()
      .appendAuditEvents([
        event(1, { requestId: text, clientAddress: "::1", details: { [text]: text, empty: "", number: "42", nul: "null" } }),
      ]);
    const [read] = (await h.store().listAuditEvents({}, {})).items;
    assert.equal(read?.requestId, text);
    assert.equal(read?.clientAddress, "::1");
    assert.deepEqual(read?.details, { [text]: text, empty: "", number: "42", nul: "null" });
  });

  h.test("appendAuditEvents with no events is a no-op", async () => {
    await h.store().appendAuditEvents([]);
    assert.deepEqual((await h.store().listAuditEvents({}, {})).items, []);
  });

  h.test("appendAuditEvents takes a large batch whole", async () => {
    const batch = Array.from({ length: 1234 }, (_, n) => event(n, { requestId: `req-${n}` }));
    await h.store().appendAuditEvents(batch);
    const { items, pages } = await collectPages(1000, (pageToken) => h.store().listAuditEvents({}, { pageSize: 1000, pageToken }));
    assert.equal(pages, 2);
    assert.equal(items.length, 1234);
    assert.deepEqual(
      items.map((e) => e.requestId),
      batch.map((e) => e.requestId).reverse(),
      "ids follow array order",
    );
  });

  h.test("listAuditEvents filters by tenant, connection, action, key and time range", async () => {
    await h
      .store()
      .appendAuditEvents([
        event(10, { tenantId: "tenant-a", connectionId: "conn_1" }),
        event(20, { tenantId: "tenant-a", connectionId: "conn_2", action: "connection.revoke", keyId: "key_b" }),
        event(30, { tenantId: "tenant-b", connectionId: "conn_3", keyId: "key_b" }),
        event(40, { tenantId: "tenant-a", connectionId: "conn_1" }),
      ]);
    const times = async (filter: AuditEventFilter) =>
      (await h.store().listAuditEvents(filter, {})).items.map((e) => e.timeMs - START_TIME_MS);
    assert.deepEqual(await times({ tenantId: "tenant-a" }), [40, 20, 10]);
    assert.deepEqual(await times({ connectionId: "conn_1" }), [40, 10]);
    assert.deepEqual(await times({ action: "connection.revoke" }), [20]);
    assert.deepEqual(await times({ keyId: "key_b" }), [30, 20]);
    assert.deepEqual(await times({ startTimeMs: START_TIME_MS + 20, endTimeMs: START_TIME_MS + 40 }), [30, 20]);
    assert.deepEqual(await times({ tenantId: "tenant-a", startTimeMs: START_TIME_MS + 15 }), [40, 20]);
  });

  h.test("listAuditEvents pages without duplicates or gaps", async () => {
    await h.store().appendAuditEvents(Array.from({ length: 11 }, (_, n) => event(n % 3)));
    const { items, pages } = await collectPages(4, (pageToken) => h.store().listAuditEvents({}, { pageSize: 4, pageToken }));
    assert.equal(pages, 3);
    assert.equal(new Set(items.map((e) => e.id)).size, 11);
    for (let i = 1; i < items.length; i++) assert.ok((items[i - 1]?.id ?? 0) > (items[i]?.id ?? 0));
  });

  h.test("pruneAuditEvents deletes only older events and ids keep increasing", async () => {
    await h.store().appendAuditEvents([event(1), event(2), event(3)]);
    const before = (await h.store().listAuditEvents({}, {})).items;
    const maxId = before[0]?.id ?? 0;
    assert.equal(await h.store().pruneAuditEvents(START_TIME_MS + 3), 2);
    assert.deepEqual(
      (await h.store().listAuditEvents({}, {})).items.map((e) => e.timeMs),
      [START_TIME_MS + 3],
    );
    assert.equal(await h.store().pruneAuditEvents(START_TIME_MS + 1000), 1);
    await h.store().appendAuditEvents([event(4)]);
    const [fresh] = (await h.store().listAuditEvents({}, {})).items;
    assert.ok(fresh && fresh.id > maxId, "an id is never reused after pruning");
  });
}
