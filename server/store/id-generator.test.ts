/**
 * Tests of the default id generator: format, fixed length at both ends of the value range, and
 * uniqueness over many draws.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createIdGenerator } from "./id-generator.ts";

describe("createIdGenerator", () => {
  it("writes 16 random bytes as 22 base62 digits after the prefix", () => {
    const id = createIdGenerator().newId("conn");
    assert.match(id, /^conn_[0-9A-Za-z]{22}$/);
  });

  it("keeps the length fixed for the smallest and largest values", () => {
    assert.equal(createIdGenerator((n) => new Uint8Array(n)).newId("key"), `key_${"0".repeat(22)}`);
    const largest = createIdGenerator((n) => new Uint8Array(n).fill(255)).newId("key");
    assert.match(largest, /^key_[0-9A-Za-z]{22}$/);
    assert.equal(largest, "key_7n42DGM5Tflk9n8mt7Fhc7");
  });

  it("does not repeat itself", () => {
    const ids = createIdGenerator();
    const seen = new Set(Array.from({ length: 10_000 }, () => ids.newId("conn")));
    assert.equal(seen.size, 10_000);
  });
});
