/**
 * Runs `node server/main.ts` as a real process (what an operator starts), with a given
 * environment: waits for its "listening" banner to learn the port, drains its output, and stops it
 * with SIGTERM (graceful) or SIGKILL after a grace period.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

/** The server entry point. */
export const MAIN_SCRIPT = join(import.meta.dirname, "..", "server", "main.ts");

/** A running server process. */
export interface ServerProcess {
  readonly child: ChildProcess;
  /** Resolves with the port from the banner; rejects if the process exits first. */
  readonly listening: Promise<number>;
  stop(graceMs?: number): Promise<void>;
}

/** Spawns the server; the environment is exactly `env` plus PATH and HOME. */
export function spawnServer(env: Record<string, string>, options: { execArgv?: string[] } = {}): ServerProcess {
  const child = spawn(process.execPath, [...(options.execArgv ?? []), MAIN_SCRIPT], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const listening = new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = /Nexus is listening on http:\/\/[^\s]*:(\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
      if (out.length > 1_000_000) out = out.slice(-10_000);
    });
    child.once("exit", (code) => reject(new Error(`server exited (${code}) before listening:\n${stderr}`)));
  });
  listening.catch(() => undefined);
  return {
    child,
    listening,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
