/**
 * `npm run bench`: runs the benchmarks (all, or those named by --only), prints progress on stderr
 * and a Markdown table of figures on stdout, and writes results.json (machine, figures, raw data).
 * Loopback only, bounded in time; a target that does not hold is reported, not an exit failure —
 * a benchmark that could not run is (exit 1).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { BenchArgsError, parseBenchArgs } from "./bench-args.ts";
import type { BenchContext, Benchmark } from "./bench-context.ts";
import { coldStartBench } from "./cold-start-bench.ts";
import { fanoutBench } from "./fanout-bench.ts";
import type { Figure } from "./figure.ts";
import { hotPathBench } from "./hot-path-bench.ts";
import { describeMachine } from "./machine-info.ts";
import { MissingToolError, requireNativeTools } from "./native-tools.ts";
import { profileBench } from "./profile-bench.ts";
import { proxyBench } from "./proxy-bench.ts";
import { refreshStormBench } from "./refresh-storm-bench.ts";
import { formatFiguresTable } from "./results-table.ts";
import { schedulerBench } from "./scheduler-bench.ts";
import { stampedeBench } from "./stampede-bench.ts";

/** Every benchmark, in the order they run. */
const BENCHMARKS: readonly Benchmark[] = [
  hotPathBench,
  profileBench,
  fanoutBench,
  stampedeBench,
  schedulerBench,
  refreshStormBench,
  coldStartBench,
  proxyBench,
];

const USAGE = `usage: npm run bench [-- --quick] [-- --only ${BENCHMARKS.map((b) => b.name).join(",")}] [-- --out FILE]
  --quick   smoke run: a few seconds per figure, smaller populations
  --only    run only the named benchmarks (comma-separated)
  --out     where to write the results (default bench/results.json)`;

async function main(): Promise<number> {
  const args = parseBenchArgs(
    process.argv.slice(2),
    BENCHMARKS.map((b) => b.name),
  );
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const selected = BENCHMARKS.filter((b) => args.only === undefined || args.only.has(b.name));
  requireNativeTools([...new Set(selected.flatMap((b) => b.tools))]);

  const scratchDir = mkdtempSync(join(tmpdir(), "nexus-bench-"));
  const context: BenchContext = { quick: args.quick, scratchDir, progress: (line) => process.stderr.write(`[bench] ${line}\n`) };
  const startedAt = new Date();
  const started = performance.now();
  const figures: Figure[] = [];
  const extra: Record<string, unknown> = {};
  const reports: string[] = [];
  const failures: { name: string; error: string }[] = [];
  try {
    for (const bench of selected) {
      const benchStarted = performance.now();
      context.progress(`── ${bench.name}`);
      try {
        const outcome = await bench.run(context);
        figures.push(...outcome.figures);
        Object.assign(extra, outcome.extra);
        if (outcome.report) reports.push(outcome.report);
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        failures.push({ name: bench.name, error });
        context.progress(`${bench.name} FAILED: ${error}`);
      }
      context.progress(`${bench.name} took ${((performance.now() - benchStarted) / 1000).toFixed(1)} s`);
    }
  } finally {
    rmSync(scratchDir, { recursive: true, force: true });
  }
  const elapsedS = Math.round((performance.now() - started) / 100) / 10;
  const out = resolve(args.out ?? join(import.meta.dirname, "results.json"));
  const results = {
    startedAt: startedAt.toISOString(),
    elapsedS,
    mode: { quick: args.quick, only: selected.map((b) => b.name) },
    machine: describeMachine(),
    figures,
    failures,
    details: extra,
  };
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);

  process.stdout.write(`\n${formatFiguresTable(figures)}\n`);
  for (const report of reports) process.stdout.write(`\n${report}\n`);
  const missed = figures.filter((f) => f.holds === false).length;
  process.stdout.write(
    `\n${figures.length} figures, ${figures.filter((f) => f.holds === true).length} targets hold, ${missed} do not; ${elapsedS} s; results in ${out}\n`,
  );
  for (const failure of failures) process.stdout.write(`benchmark ${failure.name} could not run: ${failure.error}\n`);
  return failures.length > 0 ? 1 : 0;
}

main().then(
  // Exit explicitly: client sessions of aborted streams may linger for a while otherwise.
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof BenchArgsError) process.stderr.write(`${err.message}\n${USAGE}\n`);
    else if (err instanceof MissingToolError) process.stderr.write(`${err.message}\n`);
    else process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(err instanceof BenchArgsError ? 2 : 1);
  },
);
