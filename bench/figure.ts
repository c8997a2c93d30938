/**
 * One benchmark figure as it appears in the table and in results.json: a measured value, the
 * baseline measured in the same run (when there is one), their ratio, and whether the target holds.
 * Targets are checks on this run's numbers, never absolute times asserted by a test.
 */

/** A figure as written to results.json. */
export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** The same quantity measured on the baseline in the same run; null when the figure has none. */
  baseline: number | null;
  /** value / baseline, or null without a baseline. */
  ratio: number | null;
  /**
   * A second baseline, when the figure has one: the physical floor (e.g. raw node:http2 writing
   * pre-encoded frames), measured in the same run; `floorRatio` = value / floor.
   */
  floor?: number;
  floorRatio?: number | null;
  /** The target in words, e.g. "ratio >= 0.85"; null when there is no target. */
  target: string | null;
  /** Whether the target holds; null when there is no target. */
  holds: boolean | null;
  /** Context a reader needs (what was measured, on what). */
  note?: string;
}

/** A target: its wording and the check on a figure's value and ratio. */
export interface Target {
  text: string;
  check: (value: number, ratio: number | null) => boolean;
}

/** Targets used by several benchmarks. */
export const TARGETS = {
  /** A ratio at least `min` (throughput: ours/bare). */
  ratioAtLeast: (min: number): Target => ({ text: `ratio >= ${min}`, check: (_v, r) => r !== null && r >= min }),
  /** A ratio at most `max` (latency: ours/bare). */
  ratioAtMost: (max: number): Target => ({ text: `ratio <= ${max}`, check: (_v, r) => r !== null && r <= max }),
  /** The value at most `max` (in the figure's unit). */
  atMost: (max: number, unit: string): Target => ({ text: `<= ${max} ${unit}`, check: (v) => v <= max }),
  /** The value exactly `expected`. */
  exactly: (expected: number): Target => ({ text: `== ${expected}`, check: (v) => v === expected }),
  /** The ratio within [min, max] (e.g. "does not grow with the table"). */
  ratioWithin: (min: number, max: number): Target => ({
    text: `${min} <= ratio <= ${max}`,
    check: (_v, r) => r !== null && r >= min && r <= max,
  }),
};

/** Builds a figure, computing the ratio and checking the target. */
export function makeFigure(input: {
  name: string;
  value: number;
  unit: string;
  baseline?: number;
  /** The physical floor in the same run (see Figure.floor). */
  floor?: number;
  target?: Target;
  note?: string;
}): Figure {
  const baseline = input.baseline ?? null;
  const ratio = baseline === null || baseline === 0 || !Number.isFinite(baseline) ? null : input.value / baseline;
  const holds = input.target === undefined ? null : Number.isFinite(input.value) && input.target.check(input.value, ratio);
  return {
    name: input.name,
    value: round(input.value),
    unit: input.unit,
    baseline: baseline === null ? null : round(baseline),
    ratio: ratio === null ? null : Math.round(ratio * 1000) / 1000,
    ...(input.floor === undefined
      ? {}
      : {
          floor: round(input.floor),
          floorRatio: input.floor === 0 || !Number.isFinite(input.floor) ? null : Math.round((input.value / input.floor) * 1000) / 1000,
        }),
    target: input.target?.text ?? null,
    holds,
    ...(input.note === undefined ? {} : { note: input.note }),
  };
}

/** Three significant decimals for small numbers, whole numbers for large ones. */
function round(value: number): number {
  if (!Number.isFinite(value)) return value;
  if (Math.abs(value) >= 100) return Math.round(value);
  return Math.round(value * 1000) / 1000;
}
