// No test synchronises by sleeping: a fixed wall-clock sleep in test code (fixed-sleeps.ts) fails
// this test unless its file is listed below with the number it may hold and why. Wait for an event,
// poll a condition with test/support/wait.ts, or move an injected clock instead. The counts are
// exact, so a converted sleep must also lower its entry (the list only shrinks).
import assert from "node:assert/strict";
import { test } from "node:test";
import { fixedSleeps, fixedSleepsByFile, testCodeFiles } from "./fixed-sleeps.ts";

/** file → how many fixed sleeps it may hold, and why they are not synchronisation. */
const ALLOWED: Record<string, { count: number; why: string }> = {
  "server/audit/audit-writer.test.ts": { count: 1, why: "proves retention stopped: no prune within a window" },
  "server/refresh/refresh-engine.postgres.test.ts": { count: 1, why: "simulated provider latency so two replicas race" },
  "server/refresh/refresh-engine.test.ts": { count: 1, why: "simulated provider latency so two replicas race" },
  "server/refresh/refresh-scheduler.test.ts": {
    count: 2,
    why: "simulated refresh work so refreshes overlap; proves stop() does not return while a refresh is in flight",
  },
  "server/store/postgres/store.test.ts": { count: 1, why: "proves start-up does not migrate while another process holds the lock" },
  "server/watch/credential-watch.test.ts": { count: 1, why: "simulated credential-read latency so watchers share a read" },
  "server/watch/watch-hub.test.ts": { count: 1, why: "proves heartbeats firing while nobody reads do not displace a pending event" },
  "test/database-outage.test.ts": {
    count: 4,
    why: "paces a load loop; sleep(0) probes whether a stream is still open; a 120 s guard on a child's exit",
  },
  "test/refresh-failures.test.ts": { count: 2, why: "paces reads against a real provider for a stretch of time" },
  "test/refresh-lease-crash.test.ts": {
    count: 2,
    why: "paces a read loop; a real 8 s token in a child process must age into its refresh margin",
  },
  "test/refresh-watch.test.ts": { count: 1, why: "paces the GetToken loop against a real provider" },
};

const found = fixedSleepsByFile();

test("no fixed sleep in test code beyond the allowed, explained ones", () => {
  assert.ok(testCodeFiles().length > 150, "the scan sees the test files");
  const problems: string[] = [];
  for (const [file, sleeps] of found) {
    const allowed = ALLOWED[file]?.count ?? 0;
    if (sleeps.length > allowed)
      problems.push(
        `${file}: ${sleeps.length} fixed sleeps, ${allowed} allowed — wait for an event or use test/support/wait.ts:\n  ${sleeps.join("\n  ")}`,
      );
  }
  for (const [file, { count }] of Object.entries(ALLOWED)) {
    const actual = found.get(file)?.length ?? 0;
    if (actual < count) problems.push(`${file}: ${actual} fixed sleeps, ${count} allowed — lower its entry in ALLOWED`);
  }
  assert.deepEqual(problems, []);
});

test("the scan recognises the sleep forms and leaves polling and timeouts alone", () => {
  const text = [
    "await sleep(4_500);",
    "await delay(10);",
    "await new Promise((resolve) => setTimeout(resolve, 1_100));",
    "await eventually(() => done, 10_000, 'done');",
    "const timer = setTimeout(() => reject(new Error('late')), 30_000);",
    "await new Promise((resolve) => setTimeout(resolve, intervalMs));",
  ].join("\n");
  assert.deepEqual(
    fixedSleeps(text).map((line) => Number(line.split(":")[0])),
    [1, 2, 3],
  );
});
