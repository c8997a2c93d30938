import assert from "node:assert/strict";
import { test } from "node:test";
import { endpointUrlProblem, issuerUrlProblem, placeholderNames } from "./endpoint-url.ts";

test("accepts https URLs, templates and loopback http", () => {
  for (const url of [
    "https://accounts.google.com/o/oauth2/v2/auth",
    "https://{shop}.myshopify.com/admin/oauth/authorize",
    "https://{host}/realms/{realm}/protocol/openid-connect/token",
    "http://localhost:9000/token",
    "http://127.0.0.1/token",
    "http://[::1]:8080/token",
    "https://api.openweathermap.org/data/2.5/weather?q=London",
  ]) {
    assert.equal(endpointUrlProblem(url), undefined, url);
  }
});

test("refuses what is not a safe absolute endpoint", () => {
  const cases: [string, RegExp][] = [
    ["http://example.com/token", /https/],
    ["ftp://example.com/token", /https/],
    ["/token", /absolute/],
    ["https://user:pass@example.com/token", /credentials/],
    ["https://example.com/token#frag", /fragment/],
    ["https://{Shop}.example.com", /placeholder/],
    ["https://{shop.example.com", /unbalanced/],
    ["{scheme}://example.com", /https/],
    [`https://example.com/${"a".repeat(2100)}`, /at most/],
  ];
  for (const [url, reason] of cases) assert.match(endpointUrlProblem(url) ?? "", reason, url);
  assert.match(issuerUrlProblem("https://issuer.example?x=1") ?? "", /query/);
});

test("lists placeholder names", () => {
  assert.deepEqual(placeholderNames("https://{host}/realms/{realm}"), ["host", "realm"]);
  assert.deepEqual(placeholderNames("https://example.com"), []);
});
