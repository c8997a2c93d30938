/**
 * Token buckets in memory, one per key (an API key id, or a client address for failed
 * authentication): `ratePerSecond` tokens flow in, at most `burst` are kept, a request takes one.
 * Per process: N replicas allow N times the rate. Idle full buckets are dropped, so memory follows
 * the keys active in the last few seconds, capped by `maxKeys`. It knows nothing about RPCs.
 */

/** Options of `createTokenBuckets`. */
export interface TokenBucketOptions {
  /** Refill rate, tokens per second (> 0). */
  ratePerSecond: number;
  /** Bucket size: requests allowed at once (>= 1). */
  burst: number;
  /** Monotonic milliseconds. Default `performance.now()`. */
  now?: () => number;
  /** Most buckets kept; beyond it the oldest-touched are dropped (they start full again). Default 100 000. */
  maxKeys?: number;
}

/** A set of token buckets. */
export interface TokenBuckets {
  /** Takes a token for `key`: 0 when granted, else how many ms until one is available. */
  take(key: string): number;
  /** Buckets currently kept (for tests and metrics). */
  size(): number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/** Creates the buckets. */
export function createTokenBuckets(options: TokenBucketOptions): TokenBuckets {
  const { ratePerSecond, burst } = options;
  if (!(ratePerSecond > 0) || !(burst >= 1)) throw new RangeError("ratePerSecond must be > 0 and burst >= 1");
  const now = options.now ?? (() => performance.now());
  const maxKeys = options.maxKeys ?? 100_000;
  const perMs = ratePerSecond / 1000;
  // Map order = least recently touched first (a touched bucket is re-inserted at the end).
  const buckets = new Map<string, Bucket>();
  const fullAfterMs = burst / perMs;
  let lastSweepMs = now();

  const sweep = (nowMs: number) => {
    for (const [key, bucket] of buckets) {
      if (nowMs - bucket.updatedMs < fullAfterMs) break;
      buckets.delete(key);
    }
    lastSweepMs = nowMs;
  };

  return {
    take(key) {
      const nowMs = now();
      if (nowMs - lastSweepMs > fullAfterMs) sweep(nowMs);
      const bucket = buckets.get(key) ?? { tokens: burst, updatedMs: nowMs };
      bucket.tokens = Math.min(burst, bucket.tokens + (nowMs - bucket.updatedMs) * perMs);
      bucket.updatedMs = nowMs;
      buckets.delete(key);
      buckets.set(key, bucket);
      if (buckets.size > maxKeys) buckets.delete(buckets.keys().next().value as string);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return 0;
      }
      return Math.ceil((1 - bucket.tokens) / perMs);
    },
    size: () => buckets.size,
  };
}
