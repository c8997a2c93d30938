import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { within } from "../../test/support/wait.ts";
import { createEventFeed, type FeedSignal } from "./event-feed.ts";

describe("server/watch/event-feed.test.ts", () => {
  test("a notification wakes only the tenant's subscribers; pending wake-ups coalesce to one", async () => {
    const feed = createEventFeed({ heartbeatMs: 0, now: () => 0 });
    const stop = new AbortController();
    const a = feed.subscribe("a", stop.signal);
    const b = feed.subscribe("b", stop.signal);
    feed.notify("a");
    feed.notify("a");
    assert.deepEqual(await a.next(), { value: { type: "changed", generation: 2 }, done: false });
    let bWoken = false;
    const bNext = b.next().then((r) => {
      bWoken = true;
      return r;
    });
    // a has nothing more pending: the two notifications were one wake-up.
    const aNext = a.next();
    feed.notify("b");
    assert.deepEqual(await bNext, { value: { type: "changed", generation: 3 }, done: false });
    assert.ok(bWoken);
    feed.resync();
    assert.deepEqual(await aNext, { value: { type: "changed", generation: 4 }, done: false });
    assert.equal(feed.watcherCount(), 2);
    stop.abort();
    assert.deepEqual(await a.next(), { value: undefined, done: true });
    assert.equal(feed.watcherCount(), 0);
    feed.close();
  });

  test("heartbeats reach every subscriber and absorb a pending change (they re-read too)", async () => {
    let nowMs = 1000;
    const feed = createEventFeed({ heartbeatMs: 1000, now: () => nowMs });
    const stop = new AbortController();
    const it = feed.subscribe("a", stop.signal);
    feed.notify("a");
    const seen: FeedSignal[] = [];
    // The pending "changed" is read first; then wait for a heartbeat (the timer runs for real).
    seen.push((await it.next()).value as FeedSignal);
    nowMs = 5000;
    seen.push((await within(it.next(), 5_000, "a heartbeat")).value as FeedSignal);
    assert.deepEqual(seen, [
      { type: "changed", generation: 1 },
      { type: "heartbeat", serverTimeMs: 5000, generation: 2 },
    ]);
    feed.close();
    assert.deepEqual(await it.next(), { value: undefined, done: true });
    assert.deepEqual(await feed.subscribe("a", new AbortController().signal).next(), { value: undefined, done: true }, "closed feed");
  });
});
