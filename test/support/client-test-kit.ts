/**
 * Small helpers shared by the client tests: bounded waits (a broken client must fail the test,
 * not hang it), a manual clock and a log sink that remembers every line for secret scans.
 */
import type { Clock, Logger } from "../../client/index.ts";

export { eventually, within } from "./wait.ts";

/** A clock the test moves by hand. */
export function manualClock(startMs = Date.now()): Clock & { advance(ms: number): void; set(ms: number): void } {
  let now = startMs;
  return {
    now: () => now,
    advance(ms) {
      now += ms;
    },
    set(ms) {
      now = ms;
    },
  };
}

/** A logger that keeps every entry as a JSON line. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const write = (level: string) => (fields: Record<string, unknown>, message?: string) => {
    lines.push(JSON.stringify({ level, ...fields, message }));
  };
  return { lines, debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}

/** Backoff for tests: short but real. */
export const FAST_BACKOFF = { minDelayMs: 20, maxDelayMs: 80 } as const;
