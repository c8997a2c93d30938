/**
 * Tests of the refresh scheduler on a real SQLite store: due connections are refreshed through the
 * real engine and rescheduled, concurrency is bounded, ticks are jittered, and stop() waits for
 * the refreshes in flight.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { createRefreshWorld, createTestClock, inSeconds, type RefreshWorld, type TestClock } from "../../test/support/refresh-world.ts";
import { eventually } from "../../test/support/wait.ts";
import { createSqliteStore } from "../store/sqlite/store.ts";
import type { ConnectionRecord, Store } from "../store/store.ts";
import { createRefreshScheduler } from "./refresh-scheduler.ts";

describe("refresh scheduler", () => {
  let dataDir = "";
  let store: Store;
  let clock: TestClock;
  let world: RefreshWorld;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "nexus-scheduler-"));
    clock = createTestClock();
    store = await createSqliteStore({ dataDir, now: clock.now });
    world = await createRefreshWorld(store, clock);
  });
  afterEach(async () => {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** An active connection with an hour-long token whose refresh is due `dueInMs` from now. */
  const due = async (dueInMs: number) => {
    const connection = await world.connect({ refreshToken: "rt", expiresAtSeconds: inSeconds(clock, 3600) });
    await store.setNextRefresh(connection.id, clock.now() + dueInMs);
    return connection;
  };

  it("refreshes due connections through the engine and schedules their next refresh", async () => {
    const [a, b] = [await due(-1_000), await due(0)];
    const later = await due(60_000);
    const engine = world.engine({ shouldKeepFresh: () => true, random: () => 0 });
    const scheduler = createRefreshScheduler({ store, engine, now: clock.now, random: () => 0.5, logger: world.logger });
    assert.equal(await scheduler.runOnce(), 2);
    assert.equal(world.endpoint.requests.length, 2);
    for (const connection of [a, b]) {
      const after = await world.reload(connection);
      assert.equal(after.credentialVersion, 2);
      // The new token lives an hour: next refresh 5 minutes (the skew, jitter 0) before it expires.
      assert.equal(after.nextRefreshAtMs, inSeconds(clock, 3600) * 1000 - 5 * 60_000);
    }
    assert.equal((await world.reload(later)).credentialVersion, 1);
    assert.equal(await scheduler.runOnce(), 0, "nothing is due twice");
  });

  it("claims the tick's leases in one statement and frees each with its save", async () => {
    const connections = [await due(-3), await due(-2), await due(-1)];
    const engine = world.engine({ shouldKeepFresh: () => true, random: () => 0 });
    const claimed: number[] = [];
    const claimDue: typeof engine.claimDue = async (limit) => {
      const claims = await engine.claimDue(limit);
      claimed.push(claims.length);
      return claims;
    };
    const scheduler = createRefreshScheduler({
      store,
      engine: { ...engine, claimDue },
      now: clock.now,
      random: () => 0.5,
      logger: world.logger,
    });
    assert.equal(await scheduler.runOnce(), 3);
    assert.deepEqual(claimed, [3], "one claim for the whole tick");
    assert.equal(world.endpoint.requests.length, 3);
    for (const connection of connections) {
      assert.equal((await world.reload(connection)).credentialVersion, 2);
      assert.ok(await store.claimRefreshLease(connection.id, "another-replica", 30_000, clock.now()), "lease free after the save");
    }
  });

  it("a stopping tick starts no refresh and frees the leases it claimed", async () => {
    const connections = [await due(-2), await due(-1)];
    const engine = world.engine({ shouldKeepFresh: () => true, random: () => 0 });
    const scheduler = createRefreshScheduler({ store, engine, now: clock.now, random: () => 0.5, logger: world.logger });
    const stopping = new AbortController();
    stopping.abort();
    assert.equal(await scheduler.runOnce(stopping.signal), 2);
    assert.equal(world.endpoint.requests.length, 0);
    for (const connection of connections) {
      assert.ok(await store.claimRefreshLease(connection.id, "another-replica", 30_000, clock.now()), "lease freed for the others");
    }
  });

  it("runs at most `concurrency` refreshes at once", async () => {
    for (let i = 0; i < 7; i += 1) await due(-i);
    let running = 0;
    let peak = 0;
    const seen: string[] = [];
    // Each refresh is held until the slots are full (or the last one started): then the held ones
    // finish together, so every wave overlaps as far as the limit allows, without timing.
    let waiting: Array<() => void> = [];
    const engine = {
      async refreshScheduled(connection: ConnectionRecord) {
        running += 1;
        peak = Math.max(peak, running);
        seen.push(connection.id);
        const held = new Promise<void>((resolve) => waiting.push(resolve));
        if (running >= 3 || seen.length === 7) {
          for (const release of waiting) release();
          waiting = [];
        }
        await held;
        running -= 1;
        return "success" as const;
      },
    };
    const scheduler = createRefreshScheduler({ store, engine, now: clock.now, random: () => 0.5, logger: world.logger, concurrency: 3 });
    assert.equal(await scheduler.runOnce(), 7);
    assert.equal(peak, 3);
    assert.equal(new Set(seen).size, 7);
  });

  it("loops with jittered pauses, goes on at once after a full batch, and stop() waits for refreshes in flight", async () => {
    for (let i = 0; i < 3; i += 1) await due(-i);
    const pauses: number[] = [];
    let wakeUp: () => void = () => {};
    const sleep = (ms: number, signal: AbortSignal) => {
      pauses.push(ms);
      if (ms === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        wakeUp = resolve;
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      });
    };
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let started = 0;
    let finished = 0;
    const engine = {
      async refreshScheduled(connection: ConnectionRecord) {
        started += 1;
        if (started > 3) await held;
        await store.setNextRefresh(connection.id, clock.now() + 3_600_000);
        finished += 1;
        return "success" as const;
      },
    };
    const scheduler = createRefreshScheduler({
      store,
      engine,
      now: clock.now,
      random: () => 0.25,
      logger: world.logger,
      batchSize: 2,
      intervalMs: 1_000,
      sleep,
    });
    scheduler.start();
    scheduler.start();
    assert.equal(scheduler.isRunning(), true);
    // Tick 1 lists a full batch (2): no pause. Tick 2 lists the third: a jittered pause (500 + 0.25·1000).
    await eventually(() => pauses.length === 2, 5_000, `() => pauses.length === 2`, 1);
    assert.deepEqual(pauses, [0, 750]);
    assert.equal(finished, 3);
    // A connection comes due; wake the loop; its refresh hangs at the provider; stop() must wait.
    await due(-10);
    wakeUp();
    await eventually(() => started === 4, 5_000, `() => started === 4`, 1);
    let stopped = false;
    const stopping = scheduler.stop().then(() => (stopped = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(stopped, false, "stop() returned while a refresh was in flight");
    release();
    await stopping;
    assert.equal(finished, 4);
    assert.equal(scheduler.isRunning(), false);
  });

  it("starts no refresh after stop(): only the ones already running finish", async () => {
    for (let i = 0; i < 20; i += 1) await due(-i);
    const releases: Array<() => void> = [];
    let started = 0;
    let finished = 0;
    let isStopping = false;
    const engine = {
      async refreshScheduled() {
        started += 1;
        if (!isStopping) await new Promise<void>((resolve) => releases.push(resolve));
        finished += 1;
        return "success" as const;
      },
    };
    const scheduler = createRefreshScheduler({ store, engine, now: clock.now, random: () => 0.5, logger: world.logger, concurrency: 4 });
    scheduler.start();
    await eventually(() => started === 4, 5_000, `() => started === 4`, 1);
    isStopping = true;
    const stopping = scheduler.stop();
    // Each finished refresh would let its worker take the next due connection.
    while (releases.length > 0) releases.shift()!();
    await stopping;
    assert.equal(started, 4, "no refresh started after stop()");
    assert.equal(finished, 4);
  });

  it("a failing tick is logged and the loop goes on", async () => {
    let calls = 0;
    const failingStore = {
      async listDueRefreshes() {
        calls += 1;
        if (calls === 1) throw new Error("database unavailable");
        return [];
      },
    };
    const sleep = (_ms: number, signal: AbortSignal) =>
      calls >= 2
        ? new Promise<void>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason), { once: true }))
        : Promise.resolve();
    const engine = { refreshScheduled: async () => "success" as const };
    const scheduler = createRefreshScheduler({
      store: failingStore,
      engine,
      now: clock.now,
      random: () => 0.5,
      logger: world.logger,
      sleep,
    });
    scheduler.start();
    await eventually(() => calls >= 2, 5_000, `() => calls >= 2`, 1);
    await scheduler.stop();
    assert.equal(calls, 2);
  });
});
