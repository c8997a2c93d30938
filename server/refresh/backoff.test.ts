/** Tests of the retry delay: exponential ceiling, full jitter, floor and cap. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { retryDelayMs } from "./backoff.ts";

describe("retryDelayMs", () => {
  const options = { baseMs: 1_000, maxMs: 8_000, minMs: 100 };

  it("doubles the ceiling per attempt up to maxMs", () => {
    const almostOne = () => 0.999_999;
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((attempt) => retryDelayMs(attempt, options, almostOne)),
      [999, 1_999, 3_999, 7_999, 7_999, 7_999],
    );
  });

  it("draws uniformly below the ceiling (full jitter) but never under minMs", () => {
    assert.equal(
      retryDelayMs(3, options, () => 0.5),
      2_000,
    );
    assert.equal(
      retryDelayMs(3, options, () => 0),
      100,
    );
  });

  it("treats attempts below 1 as the first and survives huge attempt counts", () => {
    assert.equal(
      retryDelayMs(0, options, () => 0.5),
      500,
    );
    assert.equal(
      retryDelayMs(10_000, options, () => 0.5),
      4_000,
    );
    assert.equal(
      retryDelayMs(1, {}, () => 0.5),
      5_000,
      "default base 10 s",
    );
  });
});
