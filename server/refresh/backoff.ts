/**
 * Retry delays for failed refreshes: exponential backoff with full jitter (a uniformly random delay
 * up to the exponential ceiling), so replicas and connections that failed together do not retry
 * together. Pure arithmetic: the random source is passed in, nothing is scheduled here.
 * @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */

/** Bounds of the retry delay, milliseconds. */
export interface BackoffOptions {
  /** Ceiling of the first retry; doubles per attempt. Default 10 s. */
  baseMs?: number;
  /** Largest ceiling. Default 15 min. */
  maxMs?: number;
  /** Smallest delay, so a jitter near 0 does not retry at once. Default 1 s. */
  minMs?: number;
}

/** Defaults of BackoffOptions. */
export const DEFAULT_BACKOFF: Required<BackoffOptions> = { baseMs: 10_000, maxMs: 15 * 60_000, minMs: 1_000 };

/**
 * The delay before retry number `attempt` (1 for the first retry): uniform in
 * [minMs, min(maxMs, baseMs · 2^(attempt−1))]. `random` returns [0, 1).
 */
export function retryDelayMs(attempt: number, options: BackoffOptions, random: () => number): number {
  const { baseMs, maxMs, minMs } = { ...DEFAULT_BACKOFF, ...options };
  const exponent = Math.min(Math.max(attempt, 1) - 1, 30);
  const ceiling = Math.min(maxMs, baseMs * 2 ** exponent);
  return Math.max(minMs, Math.floor(random() * ceiling));
}
