import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import { acmeProfile, type CaptureFixture, postForm, startCaptureFixture } from "../../test/support/capture-fixture.ts";
import type { AccountAttempt } from "../oauth/account-identity.ts";

const GOOD_KEY = "sk_live_4f9c2a7e1b";

/** A fake provider: the test endpoint accepts the key, /me answers `me`. Records what it was sent. */
function provider(me: () => Response) {
  const seen: { url: string; key: string | null; redirect: RequestInit["redirect"] }[] = [];
  const fetch = async (url: string, init: RequestInit) => {
    seen.push({ url, key: new Headers(init.headers).get("x-api-key"), redirect: init.redirect });
    return new URL(url).pathname === "/me" ? me() : new Response("{}", { status: 200 });
  };
  return { seen, fetch };
}

const lookupProfile = () =>
  acmeProfile({
    testEndpoint: "https://api.acme.example/check",
    accountLookup: { url: "https://api.acme.example/me", idPointer: "/account/id", emailPointer: "/account/owner" },
  });

describe("key capture learns the account with the entered key", () => {
  let fx: CaptureFixture | undefined;
  afterEach(async () => {
    await fx?.close();
  });

  test("account_lookup with the key applied as the strategy says; stored on the connection", async () => {
    const attempts: AccountAttempt[] = [];
    const upstream = provider(() => Response.json({ account: { id: 77, owner: "ops@acme.example" } }));
    fx = await startCaptureFixture({ fetch: upstream.fetch, accountMetrics: (a) => attempts.push(a) });
    const { connection, path } = await fx.begin(lookupProfile());
    const res = await postForm(fx, path, { api_key: GOOD_KEY, region: "eu", account: "", _nexus_action: "submit" });
    assert.equal(res.status, 303);
    const after = await fx.store.getConnection("t", connection.id);
    assert.equal(after.status, "active");
    assert.deepEqual(after.account, { id: "77", email: "ops@acme.example", displayName: null });
    const me = upstream.seen.find((r) => r.url === "https://api.acme.example/me");
    assert.deepEqual([me?.key, me?.redirect], [GOOD_KEY, "manual"]);
    assert.deepEqual(attempts, [{ source: "account_lookup", outcome: "ok" }]);
    assert.ok(!fx.logs().includes(GOOD_KEY));
  });

  test("a failing lookup never fails the capture: active, account unknown, logged with its reason", async () => {
    const attempts: AccountAttempt[] = [];
    const upstream = provider(() => new Response(null, { status: 302, headers: { location: "https://evil.example/me" } }));
    fx = await startCaptureFixture({ fetch: upstream.fetch, accountMetrics: (a) => attempts.push(a) });
    const { connection, path } = await fx.begin(lookupProfile());
    const res = await postForm(fx, path, { api_key: GOOD_KEY, region: "eu", account: "", _nexus_action: "submit" });
    assert.equal(res.status, 303);
    const after = await fx.store.getConnection("t", connection.id);
    assert.equal(after.status, "active");
    assert.equal(after.account, null);
    assert.deepEqual(attempts, [{ source: "account_lookup", outcome: "failed", reason: "redirect" }]);
    assert.ok(!upstream.seen.some((r) => r.url.startsWith("https://evil.example")), "the redirect is not followed");
    assert.match(fx.logs(), /"reason":"redirect"/);
  });

  test("a plain-http lookup URL off loopback is never called", async () => {
    const upstream = provider(() => Response.json({ account: { id: 1 } }));
    fx = await startCaptureFixture({ fetch: upstream.fetch });
    const profile = acmeProfile({ accountLookup: { url: "http://api.acme.example/me", idPointer: "/account/id" } });
    const { connection, path } = await fx.begin(profile);
    await postForm(fx, path, { api_key: GOOD_KEY, region: "eu", account: "", _nexus_action: "submit" });
    assert.equal((await fx.store.getConnection("t", connection.id)).account, null);
    assert.equal(upstream.seen.length, 0);
  });
});
