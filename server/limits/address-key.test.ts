import assert from "node:assert/strict";
import { test } from "node:test";
import { perAddressKey } from "./address-key.ts";

test("per-address keys: IPv4 as is, IPv6 by /64, IPv4-mapped as IPv4", () => {
  assert.equal(perAddressKey("203.0.113.9"), "203.0.113.9");
  assert.equal(perAddressKey("::ffff:127.0.0.1"), "127.0.0.1");
  assert.equal(perAddressKey("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  assert.equal(perAddressKey("2001:db8:1:2:bbbb:cccc:dddd:eeee"), "2001:db8:1:2::/64", "same /64, other host");
  assert.equal(perAddressKey("2001:0db8::4:5:6:7:8"), "2001:db8:0:4::/64", "'::' expands to the right width");
  assert.equal(perAddressKey("1:2::4:5:6:1.2.3.4"), "1:2:0:4::/64", "embedded IPv4 counts as two groups");
  assert.equal(perAddressKey("::1"), "0:0:0:0::/64");
  assert.equal(perAddressKey("fe80::1%eth0"), "fe80:0:0:0::/64");
  assert.equal(perAddressKey(undefined), "unknown");
});
