import assert from "node:assert/strict";
import { test } from "node:test";
import type { Strategy } from "../domain/strategy.ts";
import type { ProviderProfile } from "../providers/profile.ts";
import { createLiveCheck } from "./live-check.ts";

function recorder(status: number | Error) {
  const seen: { url: string; headers: Headers; redirect: RequestInit["redirect"] }[] = [];
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    seen.push({ url: String(input), headers: new Headers(init?.headers), redirect: init?.redirect });
    if (status instanceof Error) throw status;
    return new Response("{}", { status });
  }) as typeof fetch;
  return { seen, fetchFn };
}

function profile(strategy: Strategy, testEndpoint = "https://{tenant}.api.example.com/{version}/me"): ProviderProfile {
  return {
    name: "p",
    displayName: "P",
    category: "x",
    authType: "api_key",
    strategy,
    urlParams: ["tenant"],
    operatorParams: { version: "v2" },
    testEndpoint,
  };
}

test("strategies are applied to the test request, URL parameters filled, redirects not followed", async () => {
  const { seen, fetchFn } = recorder(200);
  const check = createLiveCheck({ fetch: fetchFn, timeoutMs: 1000 });
  const params = { tenant: "acme" };
  const header = profile({ type: "header", headerName: "X-Key", credentialField: "key", valuePrefix: "Token " });
  assert.deepEqual(await check({ profile: header, fields: { key: "k1" }, params }), { outcome: "accepted", httpStatus: 200 });
  const query = profile({ type: "query_param", paramName: "apikey", credentialField: "key" });
  await check({ profile: query, fields: { key: "k 2" }, params });
  const basic = profile({ type: "basic_auth", usernameField: "user", passwordField: "pass" });
  await check({ profile: basic, fields: { user: "ann", pass: "pä:ss" }, params });

  assert.equal(seen[0]?.url, "https://acme.api.example.com/v2/me");
  assert.equal(seen[0]?.headers.get("x-key"), "Token k1");
  assert.equal(seen[0]?.redirect, "manual");
  assert.equal(seen[1]?.url, "https://acme.api.example.com/v2/me?apikey=k+2");
  assert.equal(seen[2]?.headers.get("authorization"), `Basic ${Buffer.from("ann:pä:ss", "utf8").toString("base64")}`);
});

test("answers are sorted into accepted, rejected and unverified; HMAC and SigV4 are skipped", async () => {
  const strategy: Strategy = { type: "header", headerName: "X-Key", credentialField: "key", valuePrefix: "" };
  const verdict = async (status: number | Error, endpoint?: string) =>
    (
      await createLiveCheck({ fetch: recorder(status).fetchFn, timeoutMs: 1000 })({
        profile: profile(strategy, endpoint),
        fields: { key: "k" },
        params: { tenant: "t" },
      })
    ).outcome;
  assert.equal(await verdict(401), "rejected");
  assert.equal(await verdict(403), "rejected");
  for (const status of [302, 404, 429, 500, 503]) assert.equal(await verdict(status), "unverified", String(status));
  assert.equal(await verdict(new TypeError("fetch failed")), "unverified");
  assert.equal(await verdict(200, "https://api.example.com/{other}/me"), "unverified", "unfilled placeholder");
  assert.equal(await verdict(200, "https://{tenant}/me"), "unverified", "a connection never fills a whole host");
  assert.equal(await verdict(200, "ftp://api.example.com/"), "unverified");

  const { seen, fetchFn } = recorder(200);
  const check = createLiveCheck({ fetch: fetchFn, timeoutMs: 1000 });
  const hmac: Strategy = { type: "hmac_payload", headerName: "X-Sig", secretField: "s", algorithm: "sha256", encoding: "hex" };
  assert.deepEqual(await check({ profile: profile(hmac), fields: { s: "x" }, params: {} }), { outcome: "skipped" });
  const aws: Strategy = { type: "aws_sigv4", service: "s3", region: "us-east-1" };
  assert.deepEqual(await check({ profile: profile(aws), fields: {}, params: {} }), { outcome: "skipped" });
  const { testEndpoint: _, ...noEndpoint } = profile(strategy);
  assert.deepEqual(await check({ profile: noEndpoint, fields: { key: "k" }, params: {} }), { outcome: "skipped" });
  assert.equal(seen.length, 0);
  const withNewline = await check({ profile: profile(strategy), fields: { key: "a\r\nX-Evil: 1" }, params: { tenant: "t" } });
  assert.equal(withNewline.outcome, "unverified");
  for (const tenant of ["evil.com/", "x@evil.com", "a.b", "EVIL"]) {
    assert.equal((await check({ profile: profile(strategy), fields: { key: "k" }, params: { tenant } })).outcome, "unverified", tenant);
  }
  assert.equal(seen.length, 0, "no request leaves for a host a caller chose");
});
