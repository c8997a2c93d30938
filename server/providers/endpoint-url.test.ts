import assert from "node:assert/strict";
import { test } from "node:test";
import { endpointTemplateProblem, endpointUrlProblem, issuerTemplateProblem, issuerUrlProblem, placeholderNames } from "./endpoint-url.ts";

test("accepts https URLs, templates and loopback http", () => {
  for (const url of [
    "https://accounts.google.com/o/oauth2/v2/auth",
    "http://localhost:9000/token",
    "http://127.0.0.1/token",
    "http://[::1]:8080/token",
    "https://api.openweathermap.org/data/2.5/weather?q=London",
  ]) {
    assert.equal(endpointUrlProblem(url), undefined, url);
    assert.equal(endpointTemplateProblem(url), undefined, url);
  }
  for (const template of [
    "https://{shop}.myshopify.com/admin/oauth/authorize",
    "https://{host}/realms/{realm}/protocol/openid-connect/token",
    // The scheme rule waits for the operator's host: http://127.0.0.1:8080 is fine, http://x is not.
    "http://{host}/token",
  ]) {
    assert.equal(endpointTemplateProblem(template), undefined, template);
  }
});

test("refuses what is not a safe absolute endpoint", () => {
  const cases: [string, RegExp][] = [
    ["http://example.com/token", /https/],
    ["ftp://example.com/token", /https/],
    ["/token", /absolute/],
    ["https://user:pass@example.com/token", /credentials/],
    ["https://example.com/token#frag", /fragment/],
    [`https://example.com/${"a".repeat(2100)}`, /at most/],
  ];
  for (const [url, reason] of cases) assert.match(endpointUrlProblem(url) ?? "", reason, url);
  assert.match(issuerUrlProblem("https://issuer.example?x=1") ?? "", /query/);
});

test("refuses templates whose placeholders sit where no value may go", () => {
  const cases: [string, RegExp][] = [
    ["https://{Shop}.example.com", /placeholder/],
    ["https://{shop.example.com", /unbalanced/],
    ["{scheme}://example.com", /absolute|scheme/],
    ["https://{user}@example.com/token", /user info/],
    ["https://example.com:{port}/token", /absolute|port/],
    ["https://shop-{shop}.example.com/token", /whole label/],
    ["https://example.com/{a}/../token", /no value may go/],
    ["ftp://{host}/token", /https/],
    ["https://user:pass@{host}/token", /credentials/],
  ];
  for (const [url, reason] of cases) assert.match(endpointTemplateProblem(url) ?? "", reason, url);
  assert.match(issuerTemplateProblem("https://{host}?x=1") ?? "", /query/);
});

test("lists placeholder names", () => {
  assert.deepEqual(placeholderNames("https://{host}/realms/{realm}"), ["host", "realm"]);
  assert.deepEqual(placeholderNames("https://example.com"), []);
});
