/**
 * Server CPU per call: the CPU time (user + system) a server process spent on a fixed number of
 * calls, read from /proc/<pid>/stat before and after. On a machine shared with other work this
 * moves far less than throughput or latency (a server that waits for a core still spends the same
 * CPU per call), so the ratio ours/bare says what our own work costs. Linux only: elsewhere
 * `readCpuMicros` returns undefined and the figure is left out.
 */
import { execFile, execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";

const run = promisify(execFile);

let ticksPerSecond: number | undefined;

/** The process's CPU time so far, in µs; undefined where /proc is not readable. */
export function readCpuMicros(pid: number): number | undefined {
  try {
    // Fields after "(comm) ": state is index 0, utime index 11, stime index 12.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    ticksPerSecond ??= Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
    return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / ticksPerSecond;
  } catch {
    return undefined;
  }
}

/** Sends `count` h2c requests with h2load (4 connections × 16 streams, like the timed load). */
export async function h2loadCount(options: {
  url: string;
  bodyFile: string;
  headers: Record<string, string>;
  count: number;
}): Promise<number> {
  const args = ["-t", "1", "-c", "4", "-m", "16", "-n", String(options.count), "-d", options.bodyFile];
  for (const [name, value] of Object.entries(options.headers)) args.push("-H", `${name}: ${value}`);
  const { stdout } = await run("h2load", [...args, options.url], { maxBuffer: 4 * 1024 * 1024 });
  const codes = /status codes: (\d+) 2xx/.exec(stdout);
  return Number(codes?.[1] ?? 0);
}
