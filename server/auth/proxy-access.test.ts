import assert from "node:assert/strict";
import { test } from "node:test";
import { type ProxyRule, parseProxyRule } from "../domain/proxy-rule.ts";
import type { Principal } from "../request/principal.ts";
import { createProxyAccess } from "./proxy-access.ts";

function rules(...texts: string[]): ProxyRule[] {
  return texts.map((text) => {
    const parsed = parseProxyRule(text);
    if (typeof parsed === "string") throw new Error(parsed);
    return parsed;
  });
}

function agent(tenantId: string, proxyRules: ProxyRule[] = []): Principal {
  return { keyId: "key_a", role: "agent", tenantId, proxyRules, canReadTokens: false };
}

const admin: Principal = { keyId: "key_admin", role: "admin", tenantId: null, proxyRules: [], canReadTokens: true };

test("a key with rules: allowed only by a matching rule of the call's provider, named in `matched`", () => {
  const access = createProxyAccess({ openTenants: [] });
  const key = agent("acme", rules("github:GET,HEAD:/repos/**", "github:POST:/repos/*/*/issues"));
  assert.deepEqual(access.decide(key, { provider: "github", method: "GET", path: "/repos/o/r" }), {
    allowed: true,
    matched: "GET,HEAD /repos/**",
  });
  assert.deepEqual(access.decide(key, { provider: "github", method: "POST", path: "/repos/o/r/issues" }), {
    allowed: true,
    matched: "POST /repos/*/*/issues",
  });
  for (const call of [
    { provider: "github", method: "DELETE", path: "/repos/o/r" },
    { provider: "github", method: "GET", path: "/user" },
    { provider: "slack", method: "GET", path: "/repos/o/r" },
    { provider: "github", method: "POST", path: "/repos/o/r/pulls" },
  ]) {
    assert.deepEqual(access.decide(key, call), { allowed: false, reason: "PROXY_NOT_ALLOWED" }, JSON.stringify(call));
  }
});

test("rules only narrow: a key with rules in an opened tenant is still held to them", () => {
  const access = createProxyAccess({ openTenants: ["acme"] });
  const key = agent("acme", rules("github:GET:/user"));
  assert.equal(access.decide(key, { provider: "github", method: "GET", path: "/user" }).allowed, true);
  assert.equal(access.decide(key, { provider: "github", method: "GET", path: "/repos/x" }).allowed, false);
});

test("a key without rules: only in a tenant the operator opened ('*' opens every tenant)", () => {
  const call = { provider: "github", method: "DELETE", path: "/repos/o/r" };
  const closed = createProxyAccess({ openTenants: ["other"] });
  assert.deepEqual(closed.decide(agent("acme"), call), { allowed: false, reason: "PROXY_NOT_ALLOWED" });
  assert.deepEqual(createProxyAccess({ openTenants: ["other", "acme"] }).decide(agent("acme"), call), {
    allowed: true,
    matched: "tenant-open",
  });
  assert.deepEqual(createProxyAccess({ openTenants: ["*"] }).decide(agent("acme"), call), { allowed: true, matched: "tenant-open" });
  assert.equal(createProxyAccess({ openTenants: [] }).decide(agent("acme"), call).allowed, false);
});

test("admin keys may proxy anything (they may read every token anyway)", () => {
  const access = createProxyAccess({ openTenants: [] });
  assert.deepEqual(access.decide(admin, { provider: "github", method: "DELETE", path: "/repos/o/r" }), { allowed: true, matched: "admin" });
});
