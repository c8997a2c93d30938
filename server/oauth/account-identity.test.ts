import assert from "node:assert/strict";
import { test } from "node:test";
import { oauthSettings } from "../../test/support/oauth-settings.ts";
import type { OAuthTokenSet } from "../domain/stored-secret.ts";
import type { Strategy } from "../domain/strategy.ts";
import type { AccountLookup, OAuthSettings, ProviderProfile } from "../providers/profile.ts";
import { learnAccount, MAX_LOOKUP_BODY_BYTES } from "./account-identity.ts";
import { createDiscoveryCache } from "./discovery.ts";
import type { FetchFn } from "./request-options.ts";
import { resolveProvider } from "./resolved-provider.ts";

const TOKENS: OAuthTokenSet = { kind: "oauth2", accessToken: "at-secret", tokenType: "Bearer", extra: { api_domain: "d-1" } };

/** A fake upstream: answers by URL path and records what it was sent. */
function upstream(routes: Record<string, (init: RequestInit) => Response | Promise<Response>>) {
  const calls: { url: string; headers: Headers; redirect: RequestInit["redirect"] }[] = [];
  const fetch: FetchFn = async (url, init) => {
    calls.push({ url, headers: new Headers(init.headers), redirect: init.redirect });
    const route = routes[new URL(url).pathname];
    return route ? route(init) : new Response("not found", { status: 404 });
  };
  return { calls, fetch };
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

function profile(
  accountLookup?: AccountLookup,
  strategy: Strategy = { type: "oauth2" },
  settings: Partial<OAuthSettings> = {},
): ProviderProfile {
  return {
    name: "acme",
    displayName: "Acme",
    category: "",
    authType: "oauth2",
    oauth: oauthSettings(settings),
    strategy,
    urlParams: ["shop"],
    ...(accountLookup && { accountLookup }),
  };
}

async function learn(fetch: FetchFn, p: ProviderProfile, tokens = TOKENS, timeoutMs?: number) {
  const provider = await resolveProvider({
    settings: p.oauth!,
    clientSecret: undefined,
    urlParams: { operator: {}, connection: { shop: "s1" } },
    discovery: createDiscoveryCache({ now: () => 0, fetch }),
    fetch,
    timeoutMs,
  });
  return learnAccount({ provider, profile: p, tokens, params: { shop: "s1" } });
}

const LOOKUP: AccountLookup = {
  url: "https://{shop}.acme.example/me",
  idPointer: "/user/id",
  emailPointer: "/user/email",
  displayNamePointer: "/user/name",
};

test("account_lookup: filled URL, bearer token, no redirects, pointers into the answer", async () => {
  const up = upstream({ "/me": () => json({ user: { id: 7, email: "a@acme.example", name: "  Ann\u0007 " } }) });
  const learned = await learn(up.fetch, profile(LOOKUP));
  assert.deepEqual(learned.account, { id: "7", email: "a@acme.example", displayName: "Ann" });
  assert.equal(learned.source, "account_lookup");
  assert.deepEqual(learned.attempts, [{ source: "account_lookup", outcome: "ok" }]);
  const [call] = up.calls;
  assert.equal(call?.url, "https://s1.acme.example/me");
  assert.equal(call?.headers.get("authorization"), "Bearer at-secret");
  assert.equal(call?.redirect, "manual");
});

test("account_lookup applies header and query_param strategies (an extra token field included)", async () => {
  const up = upstream({ "/me": () => json({ user: { id: "x" } }) });
  await learn(up.fetch, profile(LOOKUP, { type: "header", headerName: "X-Token", credentialField: "access_token", valuePrefix: "tok " }));
  assert.equal(up.calls[0]?.headers.get("x-token"), "tok at-secret");
  assert.equal(up.calls[0]?.headers.get("authorization"), null);
  await learn(up.fetch, profile(LOOKUP, { type: "header", headerName: "X-Domain", credentialField: "api_domain", valuePrefix: "" }));
  assert.equal(up.calls[1]?.headers.get("x-domain"), "d-1");
  await learn(up.fetch, profile(LOOKUP, { type: "query_param", paramName: "access_token", credentialField: "access_token" }));
  assert.equal(new URL(up.calls[2]?.url ?? "").searchParams.get("access_token"), "at-secret");
});

test("account_lookup failures are results with a code, never throws: status, redirect, no id, not JSON, too large, network", async () => {
  const cases: [string, () => Response | Promise<Response>][] = [
    ["http_401", () => json({ error: "nope" }, 401)],
    ["redirect", () => new Response(null, { status: 302, headers: { location: "https://evil.example/me" } })],
    ["no_id", () => json({ user: { email: "no-id@acme.example" } })],
    ["no_id", () => json({ user: { id: { nested: 1 } } })],
    ["not_json", () => new Response("<html>", { status: 200 })],
    ["too_large", () => json({ user: { id: "1" }, pad: "x".repeat(MAX_LOOKUP_BODY_BYTES) })],
    [
      "network",
      () => {
        throw new TypeError("fetch failed");
      },
    ],
  ];
  for (const [reason, answer] of cases) {
    const up = upstream({ "/me": answer });
    const learned = await learn(up.fetch, profile(LOOKUP));
    assert.equal(learned.account, null, reason);
    assert.deepEqual(learned.attempts, [{ source: "account_lookup", outcome: "failed", reason }]);
    assert.equal(up.calls.length, 1, `${reason}: one request, no redirect followed`);
  }
});

test("account_lookup is bounded by the provider timeout", async () => {
  const up = upstream({
    "/me": (init) =>
      new Promise<Response>((_resolve, reject) => {
        init.signal?.addEventListener("abort", () => reject(init.signal?.reason));
      }),
  });
  const learned = await learn(up.fetch, profile(LOOKUP), TOKENS, 50);
  assert.deepEqual(learned.attempts, [{ source: "account_lookup", outcome: "failed", reason: "timeout" }]);
});

test("userinfo comes before account_lookup; a failing userinfo falls through to it", async () => {
  const settings = { userinfoEndpoint: "https://acme.example/userinfo" };
  const good = upstream({
    "/userinfo": () => json({ sub: "u-1", email: "u1@acme.example", preferred_username: "u1" }),
    "/me": () => json({ user: { id: "never" } }),
  });
  const first = await learn(good.fetch, profile(LOOKUP, { type: "oauth2" }, settings));
  assert.deepEqual(first.account, { id: "u-1", email: "u1@acme.example", displayName: "u1" });
  assert.equal(first.source, "userinfo");
  assert.deepEqual(
    good.calls.map((c) => new URL(c.url).pathname),
    ["/userinfo"],
  );
  assert.equal(good.calls[0]?.headers.get("authorization"), "Bearer at-secret");

  const broken = upstream({ "/userinfo": () => json({ error: "x" }, 500), "/me": () => json({ user: { id: "m-1" } }) });
  const second = await learn(broken.fetch, profile(LOOKUP, { type: "oauth2" }, settings));
  assert.deepEqual(second.account, { id: "m-1", email: null, displayName: null });
  assert.deepEqual(second.attempts, [
    { source: "userinfo", outcome: "failed", reason: "http_500" },
    { source: "account_lookup", outcome: "ok" },
  ]);
});

test("no source: account null, no attempts; an unverified id_token (no issuer) is ignored", async () => {
  const up = upstream({});
  const header = Buffer.from('{"alg":"none"}').toString("base64url");
  const payload = Buffer.from('{"sub":"forged"}').toString("base64url");
  const learned = await learn(up.fetch, profile(), { ...TOKENS, idToken: `${header}.${payload}.` });
  assert.deepEqual(learned, { account: null, source: null, attempts: [] });
  assert.equal(up.calls.length, 0);
});
