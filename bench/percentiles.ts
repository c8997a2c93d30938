/**
 * Latency summaries for the benchmarks: nearest-rank percentiles over raw samples (never averages
 * of averages). Pure functions; callers own the samples and their unit.
 */

/** Percentiles of a sample set, in the samples' unit. */
export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/**
 * Summarizes `samples` with nearest-rank percentiles (the p-th percentile is the smallest sample
 * with at least p% of the samples at or below it). Empty input gives NaN everywhere.
 */
export function summarizeLatencies(samples: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const rank = (p: number) =>
    sorted.length === 0 ? Number.NaN : (sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN);
  return {
    count: sorted.length,
    p50: rank(50),
    p99: rank(99),
    max: sorted.length === 0 ? Number.NaN : (sorted[sorted.length - 1] ?? Number.NaN),
  };
}
