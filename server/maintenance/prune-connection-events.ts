/**
 * Retention of the connection event log: every hour, deletes the events older than the retention
 * (NEXUS_CONNECTION_EVENT_RETENTION_DAYS), a prefix of the log, as the store's
 * `deleteConnectionEventsBefore` defines it. A reader of the log that must not lose events it has
 * not processed yet (e.g. webhook delivery) passes `keepAfterSeq`: nothing after it is deleted,
 * whatever its age. WatchConnections cursors older than what was deleted are then refused as
 * expired (the store remembers how far it pruned). Every replica runs it; deleting twice is harmless.
 */
import { CONNECTION_EVENT_PRUNE_INTERVAL_MS } from "../config/defaults.ts";
import type { Logger } from "../logging/logger.ts";
import type { Store } from "../store/store.ts";

/** The periodic pruning. */
export interface ConnectionEventPruner {
  /** Starts pruning every `intervalMs` (the timer does not keep the process alive). */
  start(): void;
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
  /** One run; returns how many events it deleted. */
  runOnce(): Promise<number>;
}

/** Creates the pruner. `now` is epoch milliseconds. */
export function createConnectionEventPruner(deps: {
  store: Pick<Store, "deleteConnectionEventsBefore">;
  now: () => number;
  logger: Logger;
  retentionDays: number;
  /** The highest seq that may be deleted, or undefined for no limit (asked before every run). */
  keepAfterSeq?: () => Promise<number | undefined>;
  /** Default one hour. */
  intervalMs?: number;
}): ConnectionEventPruner {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;

  async function prune(): Promise<number> {
    const cutoff = new Date(deps.now() - deps.retentionDays * 86_400_000);
    const keepAfterSeq = await deps.keepAfterSeq?.();
    const deleted = await deps.store.deleteConnectionEventsBefore(cutoff, keepAfterSeq);
    if (deleted > 0) deps.logger.info({ deleted, retentionDays: deps.retentionDays }, "old connection events deleted");
    return deleted;
  }

  const runOnce = () => {
    running ??= prune().finally(() => (running = undefined));
    return running;
  };
  return {
    runOnce,
    start() {
      if (timer !== undefined) return;
      timer = setInterval(() => {
        runOnce().catch((err: unknown) => deps.logger.error({ err }, "pruning connection events failed"));
      }, deps.intervalMs ?? CONNECTION_EVENT_PRUNE_INTERVAL_MS);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      timer = undefined;
      await running?.catch(() => undefined);
    },
  };
}
