import assert from "node:assert/strict";
import { test } from "node:test";
import { createTokenBuckets } from "./token-buckets.ts";

test("a burst is granted, then requests wait for the refill, per key", () => {
  let now = 0;
  const buckets = createTokenBuckets({ ratePerSecond: 10, burst: 3, now: () => now });
  assert.deepEqual([buckets.take("a"), buckets.take("a"), buckets.take("a")], [0, 0, 0]);
  assert.equal(buckets.take("a"), 100, "one token every 100 ms");
  assert.equal(buckets.take("b"), 0, "another key has its own bucket");
  now += 50;
  assert.equal(buckets.take("a"), 50);
  now += 50;
  assert.equal(buckets.take("a"), 0);
  now += 10_000;
  assert.deepEqual(
    [buckets.take("a"), buckets.take("a"), buckets.take("a"), buckets.take("a") > 0],
    [0, 0, 0, true],
    "refill stops at burst",
  );
});

test("idle buckets are dropped and the key count is capped", () => {
  let now = 0;
  const buckets = createTokenBuckets({ ratePerSecond: 100, burst: 1, now: () => now, maxKeys: 3 });
  for (const key of ["a", "b", "c", "d"]) buckets.take(key);
  assert.equal(buckets.size(), 3);
  now += 1_000;
  buckets.take("e");
  assert.equal(buckets.size(), 1, "full buckets are forgotten");
});

test("bad options are refused", () => {
  assert.throws(() => createTokenBuckets({ ratePerSecond: 0, burst: 1 }), RangeError);
});
