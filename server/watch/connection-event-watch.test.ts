/**
 * Unit tests of the WatchConnections stream logic over a real SQLite store and the in-process
 * feed: replay then live with no gap or duplicate, and the shared reads that make N watchers of a
 * tenant cost one log query per change.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createTempDataDir, type TempDir } from "../../test/support/temp-data-dir.ts";
import { eventually, within } from "../../test/support/wait.ts";
import { createSqliteStore } from "../store/sqlite/store.ts";
import type { Store } from "../store/store.ts";
import { type ConnectionWatchItem, createConnectionEventWatch } from "./connection-event-watch.ts";
import { createEventFeed } from "./event-feed.ts";
import { createPublishingStore } from "./publishing-store.ts";

describe("server/watch/connection-event-watch.test.ts", () => {
  let dir: TempDir;
  let base: Store;
  before(async () => {
    dir = createTempDataDir();
    base = await createSqliteStore({ dataDir: dir.path, now: Date.now });
    await base.ensureTenant({ id: "t" });
    await base.ensureTenant({ id: "other" });
  });
  after(async () => {
    await base.close();
    dir.remove();
  });

  test("200 watchers of a tenant: every one gets each event once, for one log read per change", async () => {
    const feed = createEventFeed({ heartbeatMs: 0, now: Date.now });
    const store = createPublishingStore(
      base,
      () => {},
      (tenantId) => feed.notify(tenantId),
    );
    let reads = 0;
    const counting: Pick<Store, "listConnectionEvents" | "latestConnectionEventSeq" | "connectionEventsPrunedThrough"> = {
      listConnectionEvents: (filter) => {
        reads += 1;
        return base.listConnectionEvents(filter);
      },
      latestConnectionEventSeq: (t) => base.latestConnectionEventSeq(t),
      connectionEventsPrunedThrough: (t) => base.connectionEventsPrunedThrough(t),
    };
    const watch = createConnectionEventWatch({ store: counting, feed, now: Date.now });
    const stop = new AbortController();
    const received: ConnectionWatchItem[][] = [];
    const streams = Array.from({ length: 200 }, async () => {
      const items: ConnectionWatchItem[] = [];
      received.push(items);
      for await (const item of watch.watch({ tenantId: "t", afterSeq: null, cursorText: "", replayRetained: false, signal: stop.signal })) {
        items.push(item);
      }
    });
    await eventually(() => received.length === 200 && received.every((items) => items.length === 1), 10_000, "every stream live");
    const readsAtStart = reads;

    const c = await store.createConnection({ tenantId: "t", userId: "u", providerName: "p" });
    await store.createConnection({ tenantId: "other", userId: "u", providerName: "p" }); // another tenant: nobody wakes
    await eventually(() => received.every((items) => items.length === 2), 10_000, "the created event everywhere");
    const readsForCreate = reads - readsAtStart;
    await store.updateConnectionStatus("t", c.id, "pending", "active", null);
    await eventually(() => received.every((items) => items.length === 3), 10_000, "the active event everywhere");
    const readsForActive = reads - readsAtStart - readsForCreate;

    for (const items of received) {
      assert.deepEqual(
        items.map((i) => (i.type === "event" ? i.event.type : i.type)),
        ["heartbeat", "created", "active"],
      );
    }
    assert.ok(readsForCreate <= 2 && readsForActive <= 2, `log reads per change: ${readsForCreate}, ${readsForActive} (200 watchers)`);
    stop.abort();
    await within(Promise.all(streams), 5_000, "the streams ending");
    assert.equal(feed.watcherCount(), 0);
  });
  test("pruning during a replay ends the stream with the expired cursor error instead of skipping the deleted events", async () => {
    await base.ensureTenant({ id: "replay" });
    const from = await base.latestConnectionEventSeq("replay");
    for (let i = 0; i < 250; i += 1) await base.createConnection({ tenantId: "replay", userId: `u${i}`, providerName: "p" });
    const feed = createEventFeed({ heartbeatMs: 0, now: Date.now });
    const watch = createConnectionEventWatch({ store: base, feed, now: Date.now });
    const stop = new AbortController();
    const seen: number[] = [];
    const run = (async () => {
      for await (const item of watch.watch({
        tenantId: "replay",
        afterSeq: from,
        cursorText: "c",
        replayRetained: false,
        signal: stop.signal,
      })) {
        if (item.type !== "event") break;
        seen.push(item.seq);
        // The retention pruner runs while the first page is being sent: everything goes.
        if (seen.length === 1) await base.deleteConnectionEventsBefore(new Date(Date.now() + 86_400_000));
      }
    })();
    await assert.rejects(within(run, 10_000, "the replay"), (error: Error & { kind?: string }) => {
      assert.equal(error.kind, "event_cursor_expired");
      return true;
    });
    assert.ok(seen.length < 250, `a stream that went on skipped ${250 - seen.length} deleted events`);
    stop.abort();
    assert.equal(feed.watcherCount(), 0);
  });
  test("replay_retained after pruning starts at the oldest retained event; pruning racing its first read never fails it", async () => {
    await base.ensureTenant({ id: "retained" });
    for (let i = 0; i < 3; i += 1) await base.createConnection({ tenantId: "retained", userId: `old${i}`, providerName: "p" });
    await base.deleteConnectionEventsBefore(new Date(Date.now() + 86_400_000));
    const kept = await base.createConnection({ tenantId: "retained", userId: "kept", providerName: "p" });
    const feed = createEventFeed({ heartbeatMs: 0, now: Date.now });
    const stop = new AbortController();
    const replay = async (store: Pick<Store, "listConnectionEvents" | "latestConnectionEventSeq" | "connectionEventsPrunedThrough">) => {
      const watch = createConnectionEventWatch({ store, feed, now: Date.now });
      const items: ConnectionWatchItem[] = [];
      for await (const item of watch.watch({
        tenantId: "retained",
        afterSeq: null,
        cursorText: "",
        replayRetained: true,
        signal: stop.signal,
      })) {
        items.push(item);
        if (item.type === "heartbeat") break;
      }
      return items.map((i) => (i.type === "event" ? i.event.connectionId : i.type));
    };
    assert.deepEqual(await within(replay(base), 5_000, "the replay"), [kept.id, "heartbeat"]);

    // The pruner deletes `kept`'s event (and a new one commits) between the replay's first read and its check.
    let isRaced = false;
    let late = "";
    const racing: Pick<Store, "listConnectionEvents" | "latestConnectionEventSeq" | "connectionEventsPrunedThrough"> = {
      listConnectionEvents: async (filter) => {
        const page = await base.listConnectionEvents(filter);
        if (!isRaced) {
          isRaced = true;
          await base.deleteConnectionEventsBefore(new Date(Date.now() + 86_400_000));
          late = (await base.createConnection({ tenantId: "retained", userId: "late", providerName: "p" })).id;
        }
        return page;
      },
      latestConnectionEventSeq: (t) => base.latestConnectionEventSeq(t),
      connectionEventsPrunedThrough: (t) => base.connectionEventsPrunedThrough(t),
    };
    const raced = await within(replay(racing), 5_000, "the raced replay");
    assert.equal(raced.at(-1), "heartbeat", `the replay went live: ${raced.join(", ")}`);
    assert.ok(late !== "" && !raced.includes(late), "the later event is left to the live part");
    stop.abort();
  });
});
