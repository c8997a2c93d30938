import assert from "node:assert/strict";
import { test } from "node:test";
import { createClientAddressResolver, createTrustedProxyCheck } from "./client-address.ts";

test("without trusted proxies X-Forwarded-For is ignored", () => {
  const resolve = createClientAddressResolver([]);
  assert.equal(resolve("203.0.113.9", "1.2.3.4"), "203.0.113.9");
  assert.equal(resolve("::ffff:127.0.0.1", undefined), "127.0.0.1");
  assert.equal(resolve(undefined, undefined), "");
});

test("a trusted peer's X-Forwarded-For is read from the right, skipping trusted hops", () => {
  const resolve = createClientAddressResolver(["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]);
  assert.equal(resolve("10.1.2.3", "198.51.100.1"), "198.51.100.1");
  assert.equal(resolve("10.1.2.3", "6.6.6.6, 198.51.100.1, 192.0.2.7"), "198.51.100.1", "spoofed left entries lose");
  assert.equal(resolve("::ffff:10.1.2.3", ["6.6.6.6", "198.51.100.2"]), "198.51.100.2", "several headers join");
  assert.equal(resolve("2001:db8::1", "2001:db9::5"), "2001:db9::5");
  assert.equal(resolve("10.1.2.3", "10.9.9.9, 10.8.8.8"), "10.9.9.9", "all trusted: the leftmost");
  assert.equal(resolve("10.1.2.3", "garbage, 10.8.8.8"), "10.8.8.8", "a malformed hop stops the walk");
  assert.equal(resolve("10.1.2.3", undefined), "10.1.2.3");
});

test("an untrusted peer's header is ignored even when proxies are configured", () => {
  const resolve = createClientAddressResolver(["10.0.0.0/8"]);
  assert.equal(resolve("203.0.113.9", "10.0.0.1"), "203.0.113.9");
});

test("the trusted-proxy check matches IPs and CIDRs, IPv4-mapped too", () => {
  const isTrusted = createTrustedProxyCheck(["10.0.0.0/8", "2001:db8::/32"]);
  assert.equal(isTrusted("10.2.3.4"), true);
  assert.equal(isTrusted("::ffff:10.2.3.4"), true);
  assert.equal(isTrusted("2001:db8::9"), true);
  assert.equal(isTrusted("11.0.0.1"), false);
  assert.equal(isTrusted(""), false);
});
