import assert from "node:assert/strict";
import { test } from "node:test";
import { abortableSleep, createBackoff } from "./backoff.ts";

test("delays grow exponentially up to the ceiling, jittered within [min, cap]", () => {
  const low = createBackoff({ minDelayMs: 100, maxDelayMs: 1_000, random: () => 0 });
  const high = createBackoff({ minDelayMs: 100, maxDelayMs: 1_000, random: () => 0.999999 });
  assert.deepEqual(
    Array.from({ length: 6 }, () => low.nextDelayMs()),
    [100, 100, 100, 100, 100, 100],
  );
  assert.deepEqual(
    Array.from({ length: 6 }, () => high.nextDelayMs()),
    [100, 200, 400, 800, 1_000, 1_000],
  );
  assert.equal(high.attempts, 6);
  high.reset();
  assert.equal(high.nextDelayMs(), 100);
});

test("the random source picks the point inside the window", () => {
  const backoff = createBackoff({ minDelayMs: 100, maxDelayMs: 10_000, random: () => 0.5 });
  backoff.nextDelayMs();
  backoff.nextDelayMs();
  assert.equal(backoff.nextDelayMs(), 250); // window [100, 400]
});

test("long outages never overflow the exponent", () => {
  const backoff = createBackoff({ minDelayMs: 1, maxDelayMs: 5_000, random: () => 1 });
  for (let i = 0; i < 5_000; i++) backoff.nextDelayMs();
  assert.equal(backoff.nextDelayMs(), 5_000);
});

test("abortableSleep returns false at once when aborted, true when the time passed", async () => {
  const abort = new AbortController();
  const started = Date.now();
  setTimeout(() => abort.abort(), 20);
  assert.equal(await abortableSleep(10_000, abort.signal), false);
  assert.ok(Date.now() - started < 1_000);
  assert.equal(await abortableSleep(5, new AbortController().signal), true);
  assert.equal(await abortableSleep(5, abort.signal), false);
});
