/**
 * Audit retention: deletes audit events older than `retentionDays`, once at start and then every
 * `intervalMs` (default hourly), on a timer the app starts and stops. A failed pruning is logged and
 * tried again at the next tick; it never stops the server.
 */
import type { Logger } from "../logging/logger.ts";
import type { Store } from "../store/store.ts";

/** A running retention timer. */
export interface AuditRetention {
  /** Prunes now; resolves with the number of events deleted (0 after a logged failure). */
  pruneNow(): Promise<number>;
  /** Stops the timer and waits for a pruning in progress. */
  stop(): Promise<void>;
}

/** Options of `startAuditRetention`. */
export interface AuditRetentionOptions {
  store: Pick<Store, "pruneAuditEvents">;
  logger: Logger;
  /** Epoch milliseconds. */
  now: () => number;
  /** Events older than this many days go. */
  retentionDays: number;
  /** Time between prunings, in ms. Default 3 600 000 (one hour). */
  intervalMs?: number;
}

const DAY_MS = 86_400_000;

/** Starts pruning (first run on the next tick, so start-up is not delayed). */
export function startAuditRetention(options: AuditRetentionOptions): AuditRetention {
  const { store, logger } = options;
  let running: Promise<number> | undefined;
  const pruneNow = (): Promise<number> => {
    running ??= (async () => {
      try {
        const deleted = await store.pruneAuditEvents(options.now() - options.retentionDays * DAY_MS);
        if (deleted > 0) logger.info({ deleted, retentionDays: options.retentionDays }, "old audit events pruned");
        return deleted;
      } catch (err) {
        logger.error({ err }, "audit pruning failed");
        return 0;
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  const first = setTimeout(() => void pruneNow(), 0);
  const timer = setInterval(() => void pruneNow(), options.intervalMs ?? 3_600_000);
  first.unref();
  timer.unref();
  return {
    pruneNow,
    async stop() {
      clearTimeout(first);
      clearInterval(timer);
      await running;
    },
  };
}
