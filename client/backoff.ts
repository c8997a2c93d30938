/**
 * Exponential backoff with full jitter for every retry loop of the client (watch reconnects,
 * bridge reconnects), and the abortable sleep those loops wait with. It decides delays only; it
 * never decides *whether* to retry (attention_required and revoked are never retried).
 * @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
import { setTimeout as delay } from "node:timers/promises";

/** Tuning of a backoff. All delays in milliseconds. */
export interface BackoffOptions {
  /** Floor of every delay and base of the exponential. Default 250 ms. */
  minDelayMs?: number;
  /** Ceiling of the exponential. Default 30 000 ms. */
  maxDelayMs?: number;
  /** Growth per attempt. Default 2. */
  multiplier?: number;
  /** Uniform random source in [0, 1); swap it in tests. Default `Math.random`. */
  random?: () => number;
}

/** A stateful backoff: each `nextDelayMs()` is one more failed attempt, `reset()` after success. */
export interface Backoff {
  /** Failed attempts since the last reset. */
  readonly attempts: number;
  /** The delay before the next attempt; counts one more attempt. */
  nextDelayMs(): number;
  /** Back to the first delay, after a success. */
  reset(): void;
}

/**
 * Creates a backoff. Full jitter with a floor: attempt n waits a uniform random time in
 * [minDelayMs, min(maxDelayMs, minDelayMs · multiplier^n)], so a fleet of agents that lost the
 * server together does not come back in lock-step, and no attempt spins with a zero delay.
 *
 * @example
 * const backoff = createBackoff({ minDelayMs: 100, maxDelayMs: 10_000 });
 * while (!(await tryConnect())) await abortableSleep(backoff.nextDelayMs(), signal);
 */
export function createBackoff(options: BackoffOptions = {}): Backoff {
  const minDelayMs = Math.max(0, options.minDelayMs ?? 250);
  const maxDelayMs = Math.max(minDelayMs, options.maxDelayMs ?? 30_000);
  const multiplier = Math.max(1, options.multiplier ?? 2);
  const random = options.random ?? Math.random;
  let attempts = 0;
  return {
    get attempts() {
      return attempts;
    },
    nextDelayMs() {
      // Cap the exponent so multiplier^attempts never overflows to Infinity on long outages.
      const cap = Math.min(maxDelayMs, minDelayMs * multiplier ** Math.min(attempts, 64));
      attempts += 1;
      const r = Math.min(Math.max(random(), 0), 1);
      return Math.round(minDelayMs + r * (cap - minDelayMs));
    },
    reset() {
      attempts = 0;
    },
  };
}

/**
 * Sleeps `ms` milliseconds unless `signal` aborts first. Resolves `true` when the full time
 * passed, `false` when aborted (it never rejects), so loops can write
 * `if (!(await abortableSleep(ms, signal))) return;`.
 *
 * @example
 * if (!(await abortableSleep(backoff.nextDelayMs(), signal))) return; // stopped
 */
export async function abortableSleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return false;
  try {
    await delay(ms, undefined, signal ? { signal } : undefined);
    return true;
  } catch (err) {
    if (signal?.aborted) return false;
    throw err;
  }
}
