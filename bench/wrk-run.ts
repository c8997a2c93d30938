/**
 * Drives wrk (HTTP/1.1 keep-alive) against a URL: a discarded warm-up run, then a measured run,
 * read back as requests/s and wrk's latency distribution (`--latency`).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { LoadResult } from "./h2load-run.ts";
import { readCpuMicros } from "./server-cpu.ts";

const run = promisify(execFile);

/** One wrk measurement. */
export interface WrkOptions {
  url: string;
  headers: Record<string, string>;
  /** Open HTTP/1.1 connections, i.e. callers in flight. */
  connections: number;
  durationS: number;
  warmupS: number;
  /** A server process whose CPU time (user + system, /proc) over the measured run is reported per request. */
  cpuPid?: number;
}

/** A wrk measurement, with the server's CPU per request when `cpuPid` was given (Linux). */
export interface WrkResult extends LoadResult {
  /** CPU µs the `cpuPid` process spent per measured request; undefined when not measured. */
  serverCpuUsPerCall?: number;
}

/** Runs wrk with one thread (the server keeps the other core). */
export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  const args = (seconds: number) => [
    "-t",
    "1",
    "-c",
    String(options.connections),
    "-d",
    `${seconds}s`,
    "--latency",
    // wrk's default 2 s would count the slowest first requests of a busy server as socket errors
    // (a new connection waits for a whole event-loop turn to be accepted: bench/README.md).
    "--timeout",
    "10s",
    ...Object.entries(options.headers).flatMap(([name, value]) => ["-H", `${name}: ${value}`]),
    options.url,
  ];
  if (options.warmupS > 0) await run("wrk", args(options.warmupS));
  const cpuBefore = options.cpuPid === undefined ? undefined : readCpuMicros(options.cpuPid);
  const { stdout } = await run("wrk", args(options.durationS), { maxBuffer: 4 * 1024 * 1024 });
  const cpuAfter = options.cpuPid === undefined ? undefined : readCpuMicros(options.cpuPid);
  const result: WrkResult = parseWrk(stdout);
  if (cpuBefore !== undefined && cpuAfter !== undefined && result.succeeded > 0) {
    result.serverCpuUsPerCall = (cpuAfter - cpuBefore) / result.succeeded;
  }
  return result;
}

/** Parses wrk's `--latency` report. */
export function parseWrk(stdout: string): LoadResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  const total = /(\d+) requests in/.exec(stdout);
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s)\s*$/m.exec(stdout);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s)\s*$/m.exec(stdout);
  const latency = /^\s+Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)/m.exec(stdout);
  if (!rps || !total || !p50 || !p99 || !latency) throw new Error(`unexpected wrk output:\n${stdout}`);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const failed = errors ? errors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  if (failed > 0) process.stderr.write(`[bench] wrk: ${errors?.[0] ?? "socket errors"}\n`);
  return {
    requestsPerSecond: Number(rps[1]) * (1 - non2xx / Math.max(1, Number(total[1]))),
    succeeded: Number(total[1]) - non2xx,
    failed,
    non2xx,
    p50Ms: toMs(p50[1], p50[2]),
    p99Ms: toMs(p99[1], p99[2]),
    maxMs: toMs(latency[1], latency[2]),
  };
}

function toMs(value: string | undefined, unit: string | undefined): number {
  const n = Number(value);
  return unit === "us" ? n / 1000 : unit === "s" ? n * 1000 : n;
}
