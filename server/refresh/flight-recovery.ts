/**
 * The waits that keep a refresh flight from losing a grant: retrying the save of tokens the
 * provider already issued (a rotated refresh token exists nowhere else), and, after a takeover
 * whose retry was refused, waiting to see whether the previous holder was alive after all and saves.
 * Both are bounded by the injected clock; neither touches the lease (refresh-flight.ts does).
 */
import { ConflictError, NotFoundError } from "../domain/errors.ts";
import type { Logger } from "../logging/logger.ts";
import type { StoredCredential } from "./credential-access.ts";

/** What the waits need: the engine's clock, sleep, jitter and logger. */
export interface RecoveryDeps {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  logger: Logger;
}

/** First and largest pause between save attempts, ms (jittered to 50-100 %). */
const SAVE_PAUSE_FIRST_MS = 100;
const SAVE_PAUSE_MAX_MS = 2_000;
/** Pause between reads of the credential version while waiting for a previous holder, ms. */
const VERSION_POLL_MS = 500;

/**
 * Runs `save` until it succeeds or `budgetMs` has passed, pausing with capped, jittered exponential
 * backoff. ConflictError (the version fence) and NotFoundError (connection deleted) are final and
 * thrown at once; any other error (store unavailable) is retried, and the last one is thrown when
 * the budget runs out.
 */
export async function saveWithRetry(
  deps: RecoveryDeps,
  connectionId: string,
  budgetMs: number,
  save: () => Promise<StoredCredential>,
): Promise<StoredCredential> {
  const startedMs = deps.now();
  let pauseMs = SAVE_PAUSE_FIRST_MS;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await save();
    } catch (error) {
      if (error instanceof ConflictError || error instanceof NotFoundError) throw error;
      const leftMs = startedMs + budgetMs - deps.now();
      if (leftMs <= 0) throw error;
      deps.logger.warn(
        { connectionId, attempt, leftMs, err: error },
        "saving a refreshed credential failed; retrying (the tokens are kept in memory)",
      );
      await deps.sleep(Math.max(1, Math.min(leftMs, Math.round(pauseMs * (0.5 + deps.random() / 2)))));
      pauseMs = Math.min(pauseMs * 2, SAVE_PAUSE_MAX_MS);
    }
  }
}

/**
 * Re-reads the credential until its version is no longer `version` or `waitMs` has passed; returns
 * the newer credential, or null. A store error while polling ends the wait early (null): the caller
 * then decides on what it knows.
 */
export async function waitForNewerVersion(
  deps: RecoveryDeps,
  connectionId: string,
  version: number,
  waitMs: number,
  read: () => Promise<StoredCredential>,
): Promise<StoredCredential | null> {
  const untilMs = deps.now() + waitMs;
  for (;;) {
    const leftMs = untilMs - deps.now();
    if (leftMs <= 0) return null;
    await deps.sleep(Math.min(leftMs, VERSION_POLL_MS));
    try {
      const latest = await read();
      if (latest.version !== version) return latest;
    } catch (error) {
      deps.logger.warn({ connectionId, err: error }, "reading the credential while waiting for the previous lease holder failed");
      return null;
    }
  }
}
