/**
 * What every benchmark receives from the runner: how long to run (quick smoke or full), where to
 * put scratch files, and where to report progress. Benchmarks return figures; they print no table.
 */
import type { Figure } from "./figure.ts";

/** The runner's settings and outlets, shared by every benchmark. */
export interface BenchContext {
  /** A short smoke run: a few seconds per figure, smaller populations. */
  quick: boolean;
  /** A directory removed after the run (body files, logs, databases). */
  scratchDir: string;
  /** Progress lines for the person watching (stderr). */
  progress(line: string): void;
}

/** What a benchmark returns: its figures and any extra data for results.json. */
export interface BenchOutcome {
  figures: Figure[];
  extra?: Record<string, unknown>;
  /** Text printed after the figures table (e.g. a profile summary). */
  report?: string;
}

/** One benchmark, as the runner sees it. */
export interface Benchmark {
  /** The name used by `--only`. */
  name: string;
  /** Run-time tools it needs (checked before anything starts). */
  tools: readonly ("h2load" | "wrk")[];
  run(context: BenchContext): Promise<BenchOutcome>;
}
