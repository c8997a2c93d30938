// No test synchronises by sleeping: a fixed wall-clock sleep in test code (fixed-sleeps.ts) fails
// this test unless its file is listed below with the number it may hold and why. Wait for an event,
// poll a condition with test/support/wait.ts, or move an injected clock instead. The counts are
// exact, so a converted sleep must also lower its entry (the list only shrinks).
import assert from "node:assert/strict";
import { test } from "node:test";
import { fixedSleeps, fixedSleepsByFile, testCodeFiles } from "./fixed-sleeps.ts";

/** file → how many fixed sleeps it may hold, and why they are not synchronisation. */
const ALLOWED: Record<string, { count: number; why: string }> = {
  // Proofs of absence: nothing can announce that something did NOT happen, so these give it the time.
  "server/audit/audit-writer.test.ts": { count: 1, why: "proof of absence: no prune in two intervals after stop()" },
  "server/refresh/refresh-scheduler.test.ts": { count: 1, why: "proof of absence: stop() has not returned while a refresh is held" },
  // Time passing on purpose: the thing under test is behaviour over a stretch of real time.
  "server/watch/credential-watch.test.ts": { count: 1, why: "simulated credential-read latency, so watchers asking together share a read" },
  "test/database-outage.test.ts": {
    count: 3,
    why: "paces a load loop through an outage; two sleep(0) probes ask whether a stream has already ended (no wait)",
  },
  "test/refresh-failures.test.ts": { count: 2, why: "agents keep reading for a stretch of time against a real provider (paced loop)" },
  "test/refresh-lease-crash.test.ts": { count: 1, why: "agents keep reading while replicas crash (paced loop)" },
  "test/refresh-watch.test.ts": { count: 1, why: "agents keep reading for a stretch of time against a real provider (paced loop)" },
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
