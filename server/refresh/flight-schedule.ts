/**
 * The refresh schedule a flight writes (next_refresh_at): the proactive time before expiry, the
 * backoff after a failed try (counting failed tries per connection since its last success), the
 * reschedule after losing to a newer credential, and clearing it when nothing is left to refresh.
 * It never calls the provider and never changes a status.
 */

import { isUsable } from "../domain/connection-status.ts";
import type { ConnectionRecord } from "../store/store.ts";
import { retryDelayMs } from "./backoff.ts";
import type { StoredCredential } from "./credential-access.ts";
import type { RefreshFlightDeps } from "./flight-result.ts";
import { expiresAtMs, proactiveRefreshAtMs } from "./token-freshness.ts";

/** The schedule writes of the flights of one engine. */
export interface FlightSchedule {
  /** When to refresh proactively a token expiring at `expiryMs` (epoch ms). */
  proactiveRefreshAt(expiryMs: number): number;
  /** Counts a failed try and schedules the next with backoff, no later than the token's expiry. */
  scheduleRetry(row: ConnectionRecord, current: StoredCredential): Promise<void>;
  /** Forgets the failed tries of a connection (a success, or a status that ends refreshing). */
  forgetRetries(connectionId: string): void;
  /** Schedules from `current` (proactively when the connection is kept fresh, else nothing). */
  reschedule(row: ConnectionRecord, current: StoredCredential): Promise<void>;
  /** After losing to a newer credential: replaces this flight's calling mark with a real schedule. */
  rescheduleAfterLoss(row: ConnectionRecord, latest: StoredCredential): Promise<void>;
  /** Clears next_refresh_at when it is set. */
  clearSchedule(row: ConnectionRecord): Promise<void>;
}

/** Creates the schedule; the failed-try counts live as long as it does. */
export function createFlightSchedule(
  deps: Pick<RefreshFlightDeps, "store" | "now" | "random" | "skewMs" | "leaseMs" | "backoff" | "shouldKeepFresh" | "logger">,
): FlightSchedule {
  const { store, now, logger } = deps;
  const retryCounts = new Map<string, number>();
  const proactiveRefreshAt = (expiryMs: number) => proactiveRefreshAtMs(expiryMs, now(), deps.skewMs, deps.random);

  return {
    proactiveRefreshAt,
    async scheduleRetry(row, current) {
      const retry = (retryCounts.get(row.id) ?? 0) + 1;
      retryCounts.set(row.id, retry);
      const nowMs = now();
      let at = nowMs + retryDelayMs(retry, deps.backoff, deps.random);
      const expiry = expiresAtMs(current.secret);
      if (expiry !== undefined && expiry > nowMs) at = Math.min(at, expiry);
      try {
        await store.setNextRefresh(row.id, at);
      } catch (error) {
        logger.warn({ connectionId: row.id, err: error }, "could not schedule the refresh retry");
      }
    },
    forgetRetries(connectionId) {
      retryCounts.delete(connectionId);
    },
    async reschedule(row, current) {
      const expiry = expiresAtMs(current.secret);
      const at = deps.shouldKeepFresh(row.id) && expiry !== undefined ? proactiveRefreshAt(expiry) : null;
      await store.setNextRefresh(row.id, at);
    },
    /**
     * If next_refresh_at is still this flight's calling mark (the lease end), schedule from the
     * newer credential instead, or the scheduler would refresh (and rotate) again at once. A real
     * schedule the winner saved is left alone.
     */
    async rescheduleAfterLoss(row, latest) {
      try {
        const stored = await store.findConnectionById(row.id);
        const markedAt = stored?.nextRefreshAtMs ?? null;
        if (stored == null || !isUsable(stored.status) || markedAt === null || markedAt > now() + deps.leaseMs) return;
        const expiry = expiresAtMs(latest.secret);
        const wasScheduled = deps.shouldKeepFresh(row.id) || row.nextRefreshAtMs !== null;
        await store.setNextRefresh(row.id, wasScheduled && expiry !== undefined ? proactiveRefreshAt(expiry) : null);
      } catch (error) {
        logger.warn({ connectionId: row.id, err: error }, "could not reschedule after a superseded refresh");
      }
    },
    async clearSchedule(row) {
      if (row.nextRefreshAtMs !== null) await store.setNextRefresh(row.id, null);
    },
  };
}
