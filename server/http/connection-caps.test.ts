import assert from "node:assert/strict";
import { test } from "node:test";
import { createConnectionCaps } from "./connection-caps.ts";

function setup(options: { maxConnections?: number; maxPerAddress?: number; isExempt?: (a: string) => boolean } = {}) {
  let nowMs = 0;
  const warnings: object[] = [];
  const caps = createConnectionCaps({
    maxConnections: options.maxConnections ?? 100,
    maxPerAddress: options.maxPerAddress ?? 100,
    isExempt: options.isExempt,
    logger: { warn: (obj) => void warnings.push(obj) },
    warnIntervalMs: 10_000,
    now: () => nowMs,
  });
  return { caps, warnings, advance: (ms: number) => (nowMs += ms) };
}

test("per-address counting: IPv4-mapped and plain IPv4 are one address, one IPv6 /64 is one address", () => {
  const { caps } = setup({ maxPerAddress: 2 });
  assert.ok("release" in caps.admit("::ffff:192.0.2.1"));
  assert.ok("release" in caps.admit("192.0.2.1"));
  assert.deepEqual(caps.admit("192.0.2.1"), { refused: "max_connections_per_address" });
  assert.ok("release" in caps.admit("2001:db8:0:1::1"));
  assert.ok("release" in caps.admit("2001:db8:0:1::2"));
  assert.deepEqual(caps.admit("2001:db8:0:1:ffff::9"), { refused: "max_connections_per_address" });
  assert.ok("release" in caps.admit("2001:db8:0:2::1"), "another /64");
});

test("release frees the slot once, however often it is called", () => {
  const { caps } = setup({ maxConnections: 1 });
  const first = caps.admit("192.0.2.1");
  assert.ok("release" in first);
  assert.deepEqual(caps.admit("192.0.2.2"), { refused: "max_connections" });
  first.release();
  first.release();
  assert.equal(caps.open(), 0);
  assert.ok("release" in caps.admit("192.0.2.2"));
  assert.equal(caps.open(), 1);
});

test("exempt peers skip the per-address cap but not the total", () => {
  const { caps } = setup({ maxConnections: 3, maxPerAddress: 1, isExempt: (a) => a === "10.0.0.1" });
  for (let i = 0; i < 3; i++) assert.ok("release" in caps.admit("10.0.0.1"));
  assert.deepEqual(caps.admit("10.0.0.1"), { refused: "max_connections" });
});

test("refusals are warned about at most once per interval per reason, with the count since the last warning", () => {
  const { caps, warnings, advance } = setup({ maxPerAddress: 1 });
  caps.admit("192.0.2.1");
  for (let i = 0; i < 5; i++) caps.admit("192.0.2.1");
  assert.equal(warnings.length, 1);
  advance(10_000);
  caps.admit("192.0.2.1");
  assert.equal(warnings.length, 2);
  assert.deepEqual(warnings[1], { reason: "max_connections_per_address", limit: 1, address: "192.0.2.1", refusedSinceLastWarning: 5 });
});
