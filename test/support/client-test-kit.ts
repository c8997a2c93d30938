/**
 * Small helpers shared by the client tests: bounded waits (a broken client must fail the test,
 * not hang it), a manual clock and a log sink that remembers every line for secret scans.
 */
import type { Clock, Logger } from "../../client/index.ts";

/** Rejects when `promise` takes longer than `ms`. */
export async function within<T>(promise: Promise<T>, ms = 3_000, what = "operation"): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` until it returns true; rejects after `ms`. */
export async function eventually(check: () => boolean, ms = 3_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

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
