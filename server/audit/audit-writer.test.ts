import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { eventually } from "../../test/support/wait.ts";
import { createLogger } from "../logging/logger.ts";
import type { AuditEventInput } from "../store/store.ts";
import { startAuditRetention } from "./audit-retention.ts";
import { createAuditWriter } from "./audit-writer.ts";

function sink() {
  const lines: string[] = [];
  const logger = createLogger({
    level: "debug",
    destination: new Writable({ write: (chunk: Buffer, _e, cb) => (lines.push(chunk.toString()), cb()) }),
  });
  return { logger, lines };
}

function fakeStore() {
  const batches: AuditEventInput[][] = [];
  let failures = 0;
  return {
    batches,
    failNext(n: number) {
      failures = n;
    },
    appendAuditEvents: async (events: readonly AuditEventInput[]) => {
      if (failures > 0) {
        failures -= 1;
        throw new Error("disk full");
      }
      batches.push([...events]);
    },
  };
}

const event = (i: number) => ({ action: "token.read", result: "ok", connectionId: `conn_${i}` });

test("events are written in batches after the interval, not one by one", async () => {
  const store = fakeStore();
  const writer = createAuditWriter({ store, logger: sink().logger, now: () => 42, flushIntervalMs: 20 });
  for (let i = 0; i < 5; i++) writer.record(event(i));
  assert.equal(store.batches.length, 0, "recording never waits for the store");
  await eventually(() => store.batches.length > 0, 10_000, "the interval's batch");
  assert.equal(store.batches.length, 1);
  assert.equal(store.batches[0]!.length, 5);
  assert.equal(store.batches[0]![0]!.timeMs, 42);
  await writer.close();
});

test("a full batch is written at once (with whatever queued meanwhile); close flushes the rest", async () => {
  const store = fakeStore();
  const writer = createAuditWriter({ store, logger: sink().logger, now: () => 0, flushIntervalMs: 60_000, maxBatchSize: 10 });
  for (let i = 0; i < 25; i++) writer.record(event(i));
  // The interval is a minute: anything written before the deadline went because the batch was full.
  await eventually(
    () => store.batches.flat().length === 25,
    10_000,
    "a full batch (and what queued with it) written without waiting for the interval",
  );
  writer.record(event(25));
  await writer.close();
  assert.equal(store.batches.flat().length, 26);
  assert.deepEqual(
    store.batches.flat().map((e) => e.connectionId),
    Array.from({ length: 26 }, (_, i) => `conn_${i}`),
  );
  writer.record(event(99));
  await writer.flush();
  assert.equal(store.batches.flat().length, 26, "events after close are dropped");
});

test("a failed batch is kept and retried until written, in order, with nothing lost", async () => {
  const store = fakeStore();
  const { logger, lines } = sink();
  const writer = createAuditWriter({ store, logger, now: () => 0, flushIntervalMs: 5, maxRetryDelayMs: 20 });
  store.failNext(4);
  writer.record(event(1));
  await writer.flush();
  assert.equal(store.batches.length, 0);
  assert.equal(writer.stats().depth, 1, "still buffered");
  writer.record(event(2));
  // The retry timer writes both once the store answers again (after four failures).
  await eventually(() => store.batches.flat().length >= 2, 10_000, "retried until written");
  assert.deepEqual(
    store.batches.flat().map((e) => e.connectionId),
    ["conn_1", "conn_2"],
  );
  assert.deepEqual(writer.stats(), { depth: 0, droppedTotal: 0, refusedTotal: 0, writeFailuresTotal: 4 });
  assert.ok(
    lines.some((l) => l.includes("audit write failed") && l.includes('"level":50')),
    "the failure is logged as an error",
  );
  await writer.close();
});

test("a full buffer refuses credential deliveries and drops (counts, logs) other events", async () => {
  const store = fakeStore();
  const { logger, lines } = sink();
  const writer = createAuditWriter({ store, logger, now: () => 0, flushIntervalMs: 60_000, maxBatchSize: 100, maxQueued: 3 });
  store.failNext(1_000);
  writer.admit(event(1));
  writer.record(event(2));
  writer.admit(event(3));
  assert.throws(
    () => writer.admit(event(4)),
    (err: Error) => err.name === "StoreUnavailableError" && /audit buffer full/.test(err.message),
  );
  writer.record(event(5));
  assert.deepEqual(writer.stats(), { depth: 3, droppedTotal: 1, refusedTotal: 1, writeFailuresTotal: 0 });
  assert.ok(lines.some((l) => l.includes("audit buffer full") && l.includes('"level":50')));
  assert.ok(lines.some((l) => l.includes("credential refused")));
  // The store comes back: all three accepted events are written, none of the refused ones.
  store.failNext(0);
  await writer.flush();
  assert.deepEqual(
    store.batches.flat().map((e) => e.connectionId),
    ["conn_1", "conn_2", "conn_3"],
  );
  writer.admit(event(6));
  await writer.close();
  assert.throws(() => writer.admit(event(7)), /audit log closed/);
  assert.equal(store.batches.flat().length, 4);
});

test("events still unwritten when the writer closes are counted as dropped and logged", async () => {
  const store = fakeStore();
  const { logger, lines } = sink();
  const writer = createAuditWriter({ store, logger, now: () => 0, flushIntervalMs: 1, maxRetryDelayMs: 2 });
  store.failNext(1_000);
  writer.admit(event(1));
  writer.admit(event(2));
  await writer.close();
  assert.equal(writer.stats().droppedTotal, 2);
  assert.ok(lines.some((l) => l.includes("audit events lost at shutdown") && l.includes('"lost":2')));
});

test("ambient request facts, capped fields, and ids only", async () => {
  const store = fakeStore();
  const writer = createAuditWriter({ store, logger: sink().logger, now: () => 0 });
  writer.withRequest({ requestId: "req-1", clientAddress: "198.51.100.7" }, () => {
    writer.record({ action: "consent.finish", result: "ok" });
    writer.record({ action: "consent.fail", result: "access_denied", clientAddress: "203.0.113.1" });
  });
  writer.record({ action: "x", result: "ok", connectionId: "c".repeat(1000), details: { long: "v".repeat(1000) } });
  await writer.close();
  const [a, b, c] = store.batches.flat();
  assert.equal(a?.requestId, "req-1");
  assert.equal(a?.clientAddress, "198.51.100.7");
  assert.equal(b?.clientAddress, "203.0.113.1", "explicit facts win");
  assert.equal(c?.requestId, null);
  assert.ok((c?.connectionId ?? "").length <= 257);
  assert.ok((c?.details?.long ?? "").length <= 257);
});

test("retention prunes at start and on its interval, with the cutoff in days", async () => {
  const cutoffs: number[] = [];
  const retention = startAuditRetention({
    store: { pruneAuditEvents: async (olderThanMs) => (cutoffs.push(olderThanMs), 3) },
    logger: sink().logger,
    now: () => 10 * 86_400_000,
    retentionDays: 7,
    intervalMs: 30,
  });
  await eventually(() => cutoffs.length >= 2, 10_000, "two prunings");
  await retention.stop();
  assert.ok(cutoffs.length >= 2, `pruned ${cutoffs.length} times`);
  assert.equal(cutoffs[0], 3 * 86_400_000);
  const count = cutoffs.length;
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(cutoffs.length, count, "stopped");
});

test("a queued event keeps only its capped fields, not the long strings they were cut from", async () => {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const store = fakeStore();
  store.failNext(1_000_000); // the store is down: every event stays queued
  const writer = createAuditWriter({ store, logger: sink().logger, now: Date.now, maxRetryDelayMs: 60_000 });
  gc();
  const held = () => process.memoryUsage().heapUsed + process.memoryUsage().external;
  const before = held();
  for (let i = 0; i < 40; i += 1) {
    // 40 request fields of 1 MiB each (a caller can send that much in a field the audit row names).
    writer.record({
      action: "provider.update",
      result: "denied",
      details: { provider: `${i}${Buffer.alloc(1 << 20, "x").toString("latin1")}` },
    });
  }
  gc();
  const grown = held() - before;
  assert.ok(grown < 20 * 1024 * 1024, `the queue holds ${(grown / 1024 / 1024).toFixed(1)} MiB for 40 capped events`);
  store.failNext(0);
  await writer.close();
  const details = store.batches.flat().map((row) => row.details?.provider ?? "");
  assert.equal(details.length, 40);
  assert.ok(details.every((value) => value.length === 257 && value.endsWith("x…")));
});
