import assert from "node:assert/strict";
import { test } from "node:test";
import { createDiscoveryCache, ProviderMetadataError } from "./discovery.ts";
import type { FetchFn } from "./request-options.ts";

const ISSUER = "https://id.example.com";

/** A fake discovery endpoint that counts requests and answers with the given headers. */
function fakeIssuer(cacheControl: string | null, metadata: Record<string, unknown> = {}) {
  const calls: string[] = [];
  const fetch: FetchFn = async (url) => {
    calls.push(url);
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (cacheControl !== null) headers["cache-control"] = cacheControl;
    const body = { issuer: ISSUER, token_endpoint: `${ISSUER}/token`, jwks_uri: `${ISSUER}/jwks`, ...metadata };
    return new Response(JSON.stringify(body), { status: 200, headers });
  };
  return { calls, fetch };
}

test("fetches the well-known document once and serves it from cache while fresh (max-age)", async () => {
  let nowMs = 0;
  const issuer = fakeIssuer("public, max-age=120");
  const cache = createDiscoveryCache({ now: () => nowMs, fetch: issuer.fetch });
  const first = await cache.discover(ISSUER);
  assert.equal(first.token_endpoint, `${ISSUER}/token`);
  assert.deepEqual(issuer.calls, [`${ISSUER}/.well-known/openid-configuration`]);
  nowMs = 119_000;
  assert.equal(await cache.discover(ISSUER), first, "same object: oauth4webapi caches JWKS per metadata object");
  assert.equal(issuer.calls.length, 1);
  nowMs = 120_001;
  await cache.discover(ISSUER);
  assert.equal(issuer.calls.length, 2);
});

test("lifetimes: 1 h without max-age, clamped to [1 min, 24 h], no-store gets the minimum", async () => {
  const cases: [string | null, number][] = [
    [null, 3_600_000],
    ["max-age=5", 60_000],
    ["max-age=999999", 86_400_000],
    ["no-store", 60_000],
    ["max-age=600, must-revalidate", 600_000],
  ];
  for (const [header, lifetimeMs] of cases) {
    let nowMs = 0;
    const issuer = fakeIssuer(header);
    const cache = createDiscoveryCache({ now: () => nowMs, fetch: issuer.fetch });
    await cache.discover(ISSUER);
    nowMs = lifetimeMs - 1;
    await cache.discover(ISSUER);
    assert.equal(issuer.calls.length, 1, `${header}: still cached just before ${lifetimeMs} ms`);
    nowMs = lifetimeMs;
    await cache.discover(ISSUER);
    assert.equal(issuer.calls.length, 2, `${header}: refetched at ${lifetimeMs} ms`);
  }
});

test("concurrent lookups share one request; failures are not cached", async () => {
  const issuer = fakeIssuer("max-age=300");
  const cache = createDiscoveryCache({ now: () => 0, fetch: issuer.fetch });
  const [a, b] = await Promise.all([cache.discover(ISSUER), cache.discover(ISSUER)]);
  assert.equal(a, b);
  assert.equal(issuer.calls.length, 1);

  let failing = true;
  const flaky: FetchFn = async (url, init) => {
    if (failing) throw new TypeError("fetch failed");
    return issuer.fetch(url, init);
  };
  const second = createDiscoveryCache({ now: () => 0, fetch: flaky });
  await assert.rejects(second.discover(ISSUER), TypeError);
  failing = false;
  assert.equal((await second.discover(ISSUER)).issuer, ISSUER);
});

test("a document naming another issuer is refused (OIDC Discovery §4.3)", async () => {
  const issuer = fakeIssuer(null, { issuer: "https://evil.example.com" });
  const cache = createDiscoveryCache({ now: () => 0, fetch: issuer.fetch });
  await assert.rejects(cache.discover(ISSUER), /issuer/);
});

test("plain-http endpoints are refused unless on loopback", async () => {
  const insecure = fakeIssuer(null, { jwks_uri: "http://id.example.com/jwks" });
  await assert.rejects(createDiscoveryCache({ now: () => 0, fetch: insecure.fetch }).discover(ISSUER), ProviderMetadataError);
  const http = createDiscoveryCache({ now: () => 0, fetch: fakeIssuer(null).fetch });
  // The issuer itself on plain http off loopback: oauth4webapi refuses before any request.
  await assert.rejects(http.discover("http://id.example.com"), /HTTPS/);
});

test("at most maxEntries issuers are kept (oldest dropped first)", async () => {
  const calls: string[] = [];
  const fetch: FetchFn = async (url) => {
    calls.push(url);
    const issuer = url.replace("/.well-known/openid-configuration", "");
    return new Response(JSON.stringify({ issuer, token_endpoint: `${issuer}/token` }), {
      headers: { "content-type": "application/json" },
    });
  };
  const cache = createDiscoveryCache({ now: () => 0, fetch, maxEntries: 2 });
  for (const name of ["a", "b", "c", "b", "a"]) await cache.discover(`https://${name}.example.com`);
  assert.deepEqual(
    calls.map((u) => new URL(u).hostname[0]),
    ["a", "b", "c", "a"],
  );
});
