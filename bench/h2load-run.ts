/**
 * Drives h2load (nghttp2) against an h2c URL for a fixed duration after a warm-up and reads back
 * throughput and exact latency percentiles (from its per-request log, not its mean/sd summary).
 * It counts what h2load counts: a gRPC error is an HTTP 200, so callers check grpc-status first.
 */
import { execFile } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { summarizeLatencies } from "./percentiles.ts";

const run = promisify(execFile);

/** One h2load run. */
export interface H2loadOptions {
  url: string;
  /** File whose bytes are each request's body (the request is then a POST). */
  bodyFile: string;
  headers: Record<string, string>;
  /** HTTP/2 connections (h2load -c). */
  connections: number;
  /** Concurrent streams per connection (h2load -m); connections × streams callers in flight. */
  streamsPerConnection: number;
  durationS: number;
  warmupS: number;
  /** Where the per-request log is written (then deleted). */
  scratchDir: string;
}

/** What an h2load run measured; latencies in milliseconds. */
export interface LoadResult {
  requestsPerSecond: number;
  succeeded: number;
  failed: number;
  non2xx: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Runs h2load once (one thread: the server keeps the other core). */
export async function runH2load(options: H2loadOptions): Promise<LoadResult> {
  const logFile = join(options.scratchDir, `h2load-${process.pid}-${Date.now()}.log`);
  const args = [
    "-t",
    "1",
    "-c",
    String(options.connections),
    "-m",
    String(options.streamsPerConnection),
    "-D",
    String(options.durationS),
    `--warm-up-time=${options.warmupS}`,
    "-d",
    options.bodyFile,
    `--log-file=${logFile}`,
    ...Object.entries(options.headers).flatMap(([name, value]) => ["-H", `${name}: ${value}`]),
    options.url,
  ];
  const { stdout } = await run("h2load", args, { maxBuffer: 16 * 1024 * 1024 });
  try {
    return parseH2load(stdout, readFileSync(logFile, "utf8"), options.durationS);
  } finally {
    rmSync(logFile, { force: true });
  }
}

/** Parses h2load's summary and its `--log-file` lines (start µs, status, duration µs). */
export function parseH2load(stdout: string, log: string, durationS: number): LoadResult {
  const requests = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed/.exec(stdout);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(stdout);
  if (!requests || !codes) throw new Error(`unexpected h2load output:\n${stdout.slice(-2000)}`);
  const succeeded = Number(requests[4]);
  const durations: number[] = [];
  for (const line of log.split("\n")) {
    const [, status, micros] = line.split("\t");
    if (status !== undefined && micros !== undefined && status.startsWith("2")) durations.push(Number(micros) / 1000);
  }
  const latency = summarizeLatencies(durations);
  return {
    requestsPerSecond: Number(codes[1]) / durationS,
    succeeded,
    failed: Number(requests[5]),
    non2xx: Number(codes[2]) + Number(codes[3]) + Number(codes[4]),
    p50Ms: latency.p50,
    p99Ms: latency.p99,
    maxMs: latency.max,
  };
}
