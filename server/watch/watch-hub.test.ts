/**
 * Tests of the watch hub: per-connection delivery, latest-value coalescing (no backlog), the end
 * of a subscription (abort, break, close), heartbeats, and memory per idle watcher.
 */
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { eventually } from "../../test/support/wait.ts";
import { createWatchHub, type WatchEvent } from "./watch-hub.ts";

/** The next event, or "pending" when none arrives within a few event-loop turns. */
async function nextOrPending(iterator: AsyncIterator<WatchEvent>): Promise<IteratorResult<WatchEvent> | "pending"> {
  return Promise.race([iterator.next(), new Promise<"pending">((resolve) => setTimeout(() => resolve("pending"), 20))]);
}

describe("watch hub", () => {
  it("delivers an event to the connection's watchers only", async () => {
    const hub = createWatchHub({ heartbeatMs: 0, now: Date.now });
    const controller = new AbortController();
    const a1 = hub.subscribe("conn_a", controller.signal);
    const a2 = hub.subscribe("conn_a", controller.signal);
    const b = hub.subscribe("conn_b", controller.signal);
    hub.publish({ connectionId: "conn_a", type: "credential", version: 7 });
    assert.deepEqual(await a1.next(), { value: { type: "credential", version: 7 }, done: false });
    assert.deepEqual(await a2.next(), { value: { type: "credential", version: 7 }, done: false });
    assert.equal(await nextOrPending(b), "pending");
    hub.close();
  });

  it("a watcher that does not read gets only the newest of 1000 events, never a backlog", async () => {
    const hub = createWatchHub({ heartbeatMs: 0, now: Date.now });
    const watcher = hub.subscribe("conn_a", new AbortController().signal);
    for (let version = 1; version <= 1000; version += 1) hub.publish({ connectionId: "conn_a", type: "credential", version });
    assert.deepEqual(await watcher.next(), { value: { type: "credential", version: 1000 }, done: false });
    assert.equal(await nextOrPending(watcher), "pending");
    hub.close();
  });

  it("a reader waiting in next() is woken by the next publish", async () => {
    const hub = createWatchHub({ heartbeatMs: 0, now: Date.now });
    const watcher = hub.subscribe("conn_a", new AbortController().signal);
    const waiting = watcher.next();
    hub.publish({ connectionId: "conn_a", type: "status", status: "attention_required", reason: "invalid_grant" });
    assert.deepEqual(await waiting, { value: { type: "status", status: "attention_required", reason: "invalid_grant" }, done: false });
    hub.close();
  });

  it("a second next() while one is waiting queues behind it; nothing is lost", async () => {
    const hub = createWatchHub({ heartbeatMs: 0, now: Date.now });
    const watcher = hub.subscribe("conn_a", new AbortController().signal);
    const first = watcher.next();
    const second = watcher.next();
    hub.publish({ connectionId: "conn_a", type: "credential", version: 1 });
    assert.deepEqual((await first).value, { type: "credential", version: 1 });
    hub.publish({ connectionId: "conn_a", type: "credential", version: 2 });
    assert.deepEqual((await second).value, { type: "credential", version: 2 });
    hub.close();
  });

  it("coalesces: higher version wins, different kinds become a resync, resync absorbs, heartbeats never displace", async () => {
    const hub = createWatchHub({ heartbeatMs: 0, now: Date.now });
    const signal = new AbortController().signal;
    const w = hub.subscribe("conn_a", signal);
    hub.publish({ connectionId: "conn_a", type: "credential", version: 5 });
    hub.publish({ connectionId: "conn_a", type: "credential", version: 4 });
    assert.deepEqual((await w.next()).value, { type: "credential", version: 5 });
    hub.publish({ connectionId: "conn_a", type: "credential", version: 6 });
    hub.publish({ connectionId: "conn_a", type: "status", status: "revoked", reason: null });
    assert.deepEqual((await w.next()).value, { type: "resync" });
    hub.resync();
    hub.publish({ connectionId: "conn_a", type: "credential", version: 7 });
    assert.deepEqual((await w.next()).value, { type: "resync" });
    hub.publish({ connectionId: "conn_a", type: "status", status: "active", reason: null });
    hub.publish({ connectionId: "conn_a", type: "status", status: "revoked", reason: "admin" });
    assert.deepEqual((await w.next()).value, { type: "status", status: "revoked", reason: "admin" });
    hub.close();
  });

  it("abort ends the subscription: pending reader done, count drops, abort listener removed", async () => {
    const hub = createWatchHub({ heartbeatMs: 0, now: Date.now });
    const controller = new AbortController();
    const watcher = hub.subscribe("conn_a", controller.signal);
    assert.equal(hub.watcherCount(), 1);
    assert.equal(hub.hasWatchers("conn_a"), true);
    const waiting = watcher.next();
    controller.abort();
    assert.deepEqual(await waiting, { value: undefined, done: true });
    assert.equal(hub.watcherCount(), 0);
    assert.equal(hub.hasWatchers("conn_a"), false);
    hub.publish({ connectionId: "conn_a", type: "credential", version: 1 });
    assert.deepEqual(await watcher.next(), { value: undefined, done: true });
    assert.equal(getEventListeners(controller.signal, "abort").length, 0);
    assert.deepEqual(await hub.subscribe("conn_a", controller.signal).next(), { value: undefined, done: true });
    assert.equal(hub.watcherCount(), 0, "an already aborted signal subscribes nothing");
  });

  it("breaking out of for-await unsubscribes and removes the abort listener from a long-lived signal", async () => {
    const hub = createWatchHub({ heartbeatMs: 0, now: Date.now });
    const longLived = new AbortController().signal;
    for (let round = 0; round < 3; round += 1) {
      hub.publish({ connectionId: "conn_a", type: "credential", version: round });
      const iterable = hub.subscribe("conn_a", longLived);
      hub.publish({ connectionId: "conn_a", type: "credential", version: 10 + round });
      for await (const event of iterable) {
        assert.deepEqual(event, { type: "credential", version: 10 + round });
        break;
      }
    }
    assert.equal(hub.watcherCount(), 0);
    assert.equal(getEventListeners(longLived, "abort").length, 0);
    hub.close();
  });

  it("counts watchers across connections; close() ends them all and refuses new ones", async () => {
    const hub = createWatchHub({ heartbeatMs: 0, now: Date.now });
    const signal = new AbortController().signal;
    const watchers = ["a", "a", "b", "c"].map((id) => hub.subscribe(`conn_${id}`, signal));
    assert.equal(hub.watcherCount(), 4);
    const waiting = watchers.map((w) => w.next());
    hub.close();
    for (const result of await Promise.all(waiting)) assert.equal(result.done, true);
    assert.equal(hub.watcherCount(), 0);
    assert.deepEqual(await hub.subscribe("conn_a", signal).next(), { value: undefined, done: true });
  });

  it("sends heartbeats to idle watchers from one hub timer", async () => {
    // Each heartbeat reads the clock once: counting the reads tells when more heartbeats fired.
    let clockReads = 0;
    const hub = createWatchHub({
      heartbeatMs: 10,
      now: () => {
        clockReads += 1;
        return 1_234;
      },
    });
    const watcher = hub.subscribe("conn_a", new AbortController().signal);
    assert.deepEqual(await watcher.next(), { value: { type: "heartbeat", serverTimeMs: 1_234 }, done: false });
    // A pending event is not displaced by the heartbeats that fire while nobody reads.
    hub.publish({ connectionId: "conn_a", type: "credential", version: 3 });
    const readsAtPublish = clockReads;
    await eventually(() => clockReads >= readsAtPublish + 2, 5_000, "two heartbeats while nobody reads", 1);
    assert.deepEqual(await watcher.next(), { value: { type: "credential", version: 3 }, done: false });
    hub.close();
  });

  it("keeps an idle watcher (waiting in next()) under 16 KiB of heap", async (t) => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const hub = createWatchHub({ heartbeatMs: 30_000, now: Date.now });
    const count = 10_000;
    gc();
    const before = process.memoryUsage().heapUsed;
    const controllers = Array.from({ length: count }, () => new AbortController());
    const pending = controllers.map((controller, i) => hub.subscribe(`conn_${i % 1000}`, controller.signal).next());
    gc();
    const perWatcher = (process.memoryUsage().heapUsed - before) / count;
    assert.equal(hub.watcherCount(), count);
    assert.ok(perWatcher < 16 * 1024, `${Math.round(perWatcher)} bytes per idle watcher`);
    t.diagnostic(`${Math.round(perWatcher)} bytes of heap per idle watcher`);
    for (const controller of controllers) controller.abort();
    await Promise.all(pending);
    assert.equal(hub.watcherCount(), 0);
    hub.close();
  });
});
