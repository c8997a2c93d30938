/**
 * The background refresh loop: every tick (jittered around `intervalMs`) it lists the connections
 * whose `next_refresh_at` has come and refreshes them through the engine with bounded concurrency.
 * It keeps no module state and owns only its loop; which connections are due, and what a refresh
 * does, are the store's and the engine's business. Every replica may run one: the lease dedupes.
 */
import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "../logging/logger.ts";
import type { ConnectionRecord, Store } from "../store/store.ts";
import type { RefreshEngine } from "./refresh-engine.ts";
import type { HeldLease } from "./refresh-lease.ts";

/** Dependencies and settings of the scheduler. */
export interface RefreshSchedulerOptions {
  store: Pick<Store, "listDueRefreshes"> & Partial<Pick<Store, "releaseRefreshLease">>;
  /** With `claimDue`, a tick claims its due leases in one statement (else each flight claims its own). */
  engine: Pick<RefreshEngine, "refreshScheduled"> & Partial<Pick<RefreshEngine, "claimDue">>;
  /** Epoch milliseconds. */
  now: () => number;
  /** Uniform in [0, 1): tick jitter. */
  random: () => number;
  logger: Logger;
  /** Mean pause between ticks, ms; each pause is uniform in [intervalMs/2, 3·intervalMs/2). Default 5 s. */
  intervalMs?: number;
  /** Most connections listed per tick; a full batch starts the next tick at once. Default 100. */
  batchSize?: number;
  /** Most refreshes running at once. Default 4. */
  concurrency?: number;
  /** Waits `ms`, rejecting (or resolving) early when `signal` aborts. Default node:timers/promises setTimeout. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** The running loop. */
export interface RefreshScheduler {
  /** Starts the loop; a second call while running does nothing. */
  start(): void;
  /**
   * Stops the loop: no refresh starts after this call; resolves once the (at most `concurrency`)
   * refreshes already running have finished.
   */
  stop(): Promise<void>;
  /** Runs one tick now (outside the loop); resolves with how many connections were due. */
  runOnce(signal?: AbortSignal): Promise<number>;
  /** Whether the loop is running. */
  isRunning(): boolean;
}

/** Creates a stopped scheduler. */
export function createRefreshScheduler(options: RefreshSchedulerOptions): RefreshScheduler {
  const { store, engine, now, random, logger } = options;
  const intervalMs = options.intervalMs ?? 5_000;
  const batchSize = options.batchSize ?? 100;
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const sleep = options.sleep ?? ((ms: number, signal: AbortSignal) => delay(ms, undefined, { signal }));
  let running: { controller: AbortController; loop: Promise<void> } | undefined;

  async function refreshOne(connectionId: string, run: () => Promise<string>): Promise<void> {
    try {
      const outcome = await run();
      logger.debug({ connectionId, outcome }, "scheduled refresh done");
    } catch (error) {
      logger.error({ connectionId, err: error }, "scheduled refresh failed");
    }
  }

  async function runOnce(signal?: AbortSignal): Promise<number> {
    // One statement takes every due lease of the tick; the refreshes then run `concurrency` at a time.
    const due: { connection: ConnectionRecord; lease?: HeldLease }[] =
      engine.claimDue !== undefined
        ? await engine.claimDue(batchSize)
        : (await store.listDueRefreshes(now(), batchSize)).map((connection) => ({ connection }));
    let next = 0;
    const worker = async () => {
      // Checked before each connection: a stopping replica must not start a provider call (and a
      // rotation) that its shutdown may cut short; the rest stays due for the other replicas.
      while (next < due.length && signal?.aborted !== true) {
        const item = due[next];
        next += 1;
        if (item) await refreshOne(item.connection.id, () => engine.refreshScheduled(item.connection, item.lease));
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, due.length) }, worker));
    // Leases claimed for connections a stopping replica will not refresh: free them for the others.
    if (next < due.length && engine.claimDue !== undefined) {
      for (const item of due.slice(next))
        if (item.lease) await store.releaseRefreshLease?.(item.connection.id, item.lease.token).catch(() => undefined);
    }
    return due.length;
  }

  async function loop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let dueCount = 0;
      try {
        dueCount = await runOnce(signal);
      } catch (error) {
        logger.warn({ err: error }, "listing due refreshes failed; trying again next tick");
      }
      if (signal.aborted) return;
      // A full batch means more is due: go on after yielding, instead of waiting a whole interval.
      const pauseMs = dueCount >= batchSize ? 0 : Math.floor(intervalMs / 2 + random() * intervalMs);
      try {
        await sleep(pauseMs, signal);
      } catch (error) {
        if (signal.aborted) return;
        throw error;
      }
    }
  }

  return {
    start() {
      if (running) return;
      const controller = new AbortController();
      const loop_ = loop(controller.signal).catch((error: unknown) => {
        logger.error({ err: error }, "refresh scheduler stopped unexpectedly");
      });
      running = { controller, loop: loop_ };
    },
    async stop() {
      const current = running;
      if (!current) return;
      current.controller.abort();
      await current.loop;
      if (running === current) running = undefined;
    },
    runOnce,
    isRunning: () => running !== undefined,
  };
}
