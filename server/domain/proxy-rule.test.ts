import assert from "node:assert/strict";
import { test } from "node:test";
import {
  decodedSegments,
  formatProxyRule,
  MAX_PROXY_PATTERN_LENGTH,
  MAX_PROXY_RULES,
  normalizeProxyRules,
  type ProxyRule,
  parseProxyRule,
  proxyRuleMatches,
} from "./proxy-rule.ts";

function rule(text: string): ProxyRule {
  const parsed = parseProxyRule(text);
  assert.ok(typeof parsed !== "string", `${text}: ${parsed}`);
  return parsed;
}

test("the text form parses to a canonical rule and prints back", () => {
  assert.deepEqual(rule("github:head,GET:/repos/**"), { provider: "github", methods: ["GET", "HEAD"], path: "/repos/**" });
  assert.equal(formatProxyRule(rule("github:head,GET,get:/repos/**")), "github:GET,HEAD:/repos/**");
  assert.deepEqual(rule("aws-s3:*:/bucket/a:b/**").path, "/bucket/a:b/**");
  assert.deepEqual(rule("slack:*:/").methods, ["*"]);
});

test("bad rules are refused with a reason that names the fault", () => {
  const bad: [string, RegExp][] = [
    ["github", /provider:METHODS:\/path/],
    ["github:GET", /provider:METHODS:\/path/],
    [":GET:/x", /provider: is required/],
    ["GitHub:GET:/x", /provider: must be a provider name/],
    ["github::/x", /methods: is required/],
    ["github:FETCH:/x", /methods: "FETCH" is not one of/],
    ["github:GET,*:/x", /"\*" stands alone/],
    ["github:GET:repos/**", /path: must start with "\/"/],
    ["github:GET:/repos//x", /empty segment/],
    ["github:GET:/repos/../x", /"\." or "\.\."/],
    ["github:GET:/repos/./x", /"\." or "\.\."/],
    ["github:GET:/repos/a*", /whole segment/],
    ["github:GET:/repos/***", /whole segment/],
    ["github:GET:/repos/a%2Fb", /may not contain "%"/],
    ["github:GET:/repos/a b", /whitespace/],
    ["github:GET:/repos?x=1", /"\?"/],
    [`github:GET:/${"a".repeat(MAX_PROXY_PATTERN_LENGTH)}`, /path: must be at most 512/],
  ];
  for (const [text, reason] of bad) {
    const parsed = parseProxyRule(text);
    assert.equal(typeof parsed, "string", text);
    assert.match(parsed as string, reason, text);
  }
});

test("a rule list: at most 32, no duplicates (after normalising), first fault with its index", () => {
  const r = { provider: "github", methods: ["GET"], path: "/x" };
  assert.deepEqual(normalizeProxyRules([r, { ...r, path: "/y" }]), { rules: [r, { ...r, path: "/y" }] });
  assert.deepEqual(normalizeProxyRules([r, { ...r, methods: ["get"] }]), { index: 1, field: "", problem: "duplicate rule" });
  assert.deepEqual(normalizeProxyRules([r, { ...r, methods: ["BREW"] }]), {
    index: 1,
    field: "methods",
    problem: '"BREW" is not one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS or "*"',
  });
  const many = Array.from({ length: MAX_PROXY_RULES + 1 }, (_, i) => ({ ...r, path: `/p${i}` }));
  assert.deepEqual(normalizeProxyRules(many), { index: -1, field: "", problem: "at most 32 rules per key" });
  assert.ok("rules" in normalizeProxyRules(many.slice(0, MAX_PROXY_RULES)));
});

test("methods: listed only, compared upper case; * allows every method", () => {
  const r = rule("github:GET,HEAD:/repos/**");
  assert.ok(proxyRuleMatches(r, "GET", "/repos/a/b"));
  assert.ok(proxyRuleMatches(r, "head", "/repos/a/b"));
  assert.ok(!proxyRuleMatches(r, "POST", "/repos/a/b"));
  assert.ok(!proxyRuleMatches(r, "DELETE", "/repos/a/b"));
  assert.ok(proxyRuleMatches(rule("github:*:/x"), "PATCH", "/x"));
  assert.ok(proxyRuleMatches(rule("github:*:/x"), "PROPFIND", "/x"));
});

test("paths: * is one non-empty segment, ** any number (zero too), literals exact and case-sensitive", () => {
  const cases: [string, string, boolean][] = [
    ["/repos/**", "/repos", true],
    ["/repos/**", "/repos/", true],
    ["/repos/**", "/repos/o/r/issues/1", true],
    ["/repos/**", "/repository", false],
    ["/repos/**", "/user/repos", false],
    ["/repos/**", "/Repos/o/r", false],
    ["/repos/*/*/issues", "/repos/o/r/issues", true],
    ["/repos/*/*/issues", "/repos/o/issues", false],
    ["/repos/*/*/issues", "/repos/o//issues", false],
    ["/repos/*/*/issues", "/repos/o/r/issues/1", false],
    ["/repos/*/*/issues", "/repos/o/r/issues/", false],
    ["/**/issues", "/repos/o/r/issues", true],
    ["/**/issues", "/issues", true],
    ["/**/issues", "/repos/o/r/pulls", false],
    ["/a/**/b/**/c", "/a/x/b/y/z/c", true],
    ["/a/**/b/**/c", "/a/b/c", true],
    ["/a/**/b/**/c", "/a/c/b", false],
    ["/user", "/user", true],
    ["/user", "/user/", false],
    ["/user/", "/user/", true],
    ["/user/", "/user", false],
    ["/user/**", "/user", true],
    ["/user/**", "/user/", true],
    ["/", "/", true],
    ["/", "/x", false],
    ["/**", "/", true],
    ["/**", "/anything/at/all", true],
    ["/*", "/", false],
  ];
  for (const [pattern, path, expected] of cases) {
    assert.equal(proxyRuleMatches(rule(`github:GET:${pattern}`), "GET", path), expected, `${pattern} vs ${path}`);
  }
});

test("percent-encoding: matched on decoded segments, so encoding neither dodges nor satisfies a rule", () => {
  const repos = rule("github:GET:/repos/**");
  assert.ok(proxyRuleMatches(repos, "GET", "/rep%6Fs/o/r"));
  assert.ok(proxyRuleMatches(rule("github:GET:/files/café"), "GET", "/files/caf%C3%A9"));
  assert.ok(!proxyRuleMatches(rule("github:GET:/a/*"), "GET", "/a/x%2Fy/z"));
  // An encoded slash stays inside its segment: one segment "x/y", never two.
  assert.ok(proxyRuleMatches(rule("github:GET:/a/*"), "GET", "/a/x%2Fy"));
  assert.ok(!proxyRuleMatches(repos, "GET", "/repos/%E0%A4%A"));
  assert.equal(decodedSegments("/repos/%zz"), null);
  assert.equal(decodedSegments("repos"), null);
  assert.deepEqual(decodedSegments("/"), [""]);
});

// Without memoisation this match takes on the order of 2000^10 steps and never ends: the test's
// timeout (not a speed assertion) is what fails then.
test("a long path against many ** ends (memoised)", { timeout: 60_000 }, () => {
  const r = rule(`github:GET:${"/**/a".repeat(10)}/b`);
  const path = `/${"a/".repeat(2000)}c`;
  assert.equal(proxyRuleMatches(r, "GET", path), false);
});
