/**
 * Marks abandoned consents expired: a connection still pending well after its consent link died
 * (the user never came back) becomes `expired` with reason `consent_timeout`, through the normal
 * compare-and-set status change, so watchers hear of it and a late callback cannot revive it.
 */
import { CONSENT_STATE_TTL_MS } from "../consent/consent-states.ts";
import { ConflictError } from "../domain/errors.ts";
import { transition } from "../lifecycle/connection-transition.ts";
import type { Logger } from "../logging/logger.ts";
import type { Store } from "../store/store.ts";

/** The periodic sweep. */
export interface StaleConsentSweeper {
  /** Starts sweeping every `intervalMs` (the timer does not keep the process alive). */
  start(): void;
  /** Stops the timer and waits for a sweep in progress. */
  stop(): Promise<void>;
  /** One sweep; returns how many connections it expired. */
  runOnce(): Promise<number>;
}

/** Creates the sweeper. `now` is epoch milliseconds. */
export function createStaleConsentSweeper(deps: {
  store: Pick<Store, "listStalePending" | "updateConnectionStatus">;
  now: () => number;
  logger: Logger;
  /** A pending connection untouched for this long is abandoned. Default: consent TTL + 5 min. */
  maxAgeMs?: number;
  /** Default 60 s. */
  intervalMs?: number;
  /** Most connections expired per sweep. Default 500. */
  batchSize?: number;
}): StaleConsentSweeper {
  const maxAgeMs = deps.maxAgeMs ?? CONSENT_STATE_TTL_MS + 5 * 60_000;
  const batchSize = deps.batchSize ?? 500;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;

  async function sweep(): Promise<number> {
    let expired = 0;
    for (const connection of await deps.store.listStalePending(deps.now() - maxAgeMs, batchSize)) {
      try {
        await transition(deps.store, connection, "expired", "consent_timeout");
        expired++;
      } catch (err) {
        // The consent finished (or was revoked) between the read and the write: nothing to do.
        if (!(err instanceof ConflictError)) throw err;
      }
    }
    if (expired > 0) deps.logger.info({ expired }, "abandoned consents expired");
    return expired;
  }

  const runOnce = () => {
    running ??= sweep().finally(() => (running = undefined));
    return running;
  };
  return {
    runOnce,
    start() {
      if (timer !== undefined) return;
      timer = setInterval(() => {
        runOnce().catch((err: unknown) => deps.logger.error({ err }, "sweeping abandoned consents failed"));
      }, deps.intervalMs ?? 60_000);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      timer = undefined;
      await running?.catch(() => undefined);
    },
  };
}
