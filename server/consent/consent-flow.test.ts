import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { pino } from "pino";
import { oauthSettings } from "../../test/support/oauth-settings.ts";
import { createTempDataDir, type TempDir } from "../../test/support/temp-data-dir.ts";
import { createReturnUrlPolicy, DEV_RETURN_URL_ORIGINS } from "../config/return-url-policy.ts";
import {
  ConnectionNotUsableError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  NotImplementedError,
  ProviderUnavailableError,
  ReturnUrlNotAllowedError,
} from "../domain/errors.ts";
import { createOAuthClient } from "../oauth/oauth-client.ts";
import type { FetchFn } from "../oauth/request-options.ts";
import type { OAuthSettings, ProviderProfile, StoredProvider } from "../providers/profile.ts";
import { createSqliteStore } from "../store/sqlite/store.ts";
import type { Store } from "../store/store.ts";
import { generateKeyringText, parseKeyring } from "../vault/keyring.ts";
import { createVault } from "../vault/vault.ts";
import { type ConsentFlow, createConsentFlow, type KeyCaptureStarter } from "./consent-flow.ts";
import { createConsentStates } from "./consent-states.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("server/consent/consent-flow.test.ts", () => {
  const RETURN = "http://localhost:3000/done";
  const T = "t1";

  const shopSettings = (overrides: Partial<OAuthSettings> = {}): OAuthSettings =>
    oauthSettings({
      authorizationEndpoint: "https://{shop}.shop.example/authorize",
      tokenEndpoint: "https://{shop}.shop.example/token",
      defaultScopes: ["read"],
      clientAuthMethod: "client_secret_basic",
      ...overrides,
    });

  const profiles: Record<string, ProviderProfile> = {
    shop: {
      name: "shop",
      displayName: "Shop",
      category: "",
      authType: "oauth2",
      oauth: shopSettings(),
      strategy: { type: "oauth2" },
      urlParams: ["shop"],
    },
    legacy: {
      name: "legacy",
      displayName: "Legacy",
      category: "",
      authType: "oauth2",
      oauth: shopSettings({
        scopeSeparator: ",",
        authorizationEndpoint: "https://legacy.example/authorize",
        tokenEndpoint: "https://legacy.example/token",
      }),
      strategy: { type: "oauth2" },
      urlParams: [],
    },
    machine: {
      name: "machine",
      displayName: "M",
      category: "",
      authType: "oauth2_client_credentials",
      oauth: shopSettings({ authorizationEndpoint: undefined, tokenEndpoint: "https://down.example/token" }),
      strategy: { type: "oauth2" },
      urlParams: [],
    },
    oidc: {
      name: "oidc",
      displayName: "O",
      category: "",
      authType: "oauth2",
      oauth: shopSettings({ issuer: "https://unreachable.example", authorizationEndpoint: undefined, tokenEndpoint: undefined }),
      strategy: { type: "oauth2" },
      urlParams: [],
    },
    // The same provider account id in every shop (the lookup answers "u-same" whatever the shop).
    shopwho: {
      name: "shopwho",
      displayName: "Shop who",
      category: "",
      authType: "oauth2",
      oauth: shopSettings(),
      strategy: { type: "oauth2" },
      urlParams: ["shop"],
      accountLookup: { url: "https://{shop}.shop.example/me", idPointer: "/id" },
    },
    keys: {
      name: "keys",
      displayName: "K",
      category: "",
      authType: "api_key",
      credentialSchema: { type: "object" },
      strategy: { type: "header", headerName: "X-Key", credentialField: "api_key", valuePrefix: "" },
      urlParams: [],
    },
  };

  /** The provider directory's contract, over the table above; "shop" alone has its secret. */
  const providers = {
    async getWithSecret(name: string) {
      const profile = profiles[name];
      if (!profile) throw new NotFoundError("provider", name);
      const provider: StoredProvider = { profile, hasClientSecret: name !== "legacy", createdAtMs: 0, updatedAtMs: 0 };
      return { provider, clientSecret: name === "legacy" ? undefined : "secret" };
    },
  };

  /** Provider requests: discovery and token endpoints of "down.example"/"unreachable.example" are unavailable. */
  const fetch: FetchFn = async (url) => {
    if (url.includes("unreachable.example")) throw new TypeError("fetch failed");
    // A provider that spells granted scopes its own way (as Google answers URLs for "email").
    if (url.startsWith("https://renamed.shop.example/token")) {
      const body = { access_token: "at", token_type: "Bearer", scope: "urn:shop:read" };
      return new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });
    }
    if (new URL(url).pathname === "/me")
      return new Response(JSON.stringify({ id: "u-same" }), { headers: { "content-type": "application/json" } });
    if (url.includes("down.example"))
      return new Response("<html>maintenance</html>", { status: 503, headers: { "content-type": "text/html" } });
    return new Response(JSON.stringify({ access_token: "at", token_type: "Bearer" }), { headers: { "content-type": "application/json" } });
  };

  let dir: TempDir;
  let store: Store;
  let nowMs = 1_700_000_000_000;
  let flow: ConsentFlow;
  let captured: Parameters<KeyCaptureStarter["begin"]>[0][] = [];

  const makeFlow = (keyCapture?: KeyCaptureStarter) => {
    const vault = createVault(parseKeyring(generateKeyringText()));
    const now = () => nowMs;
    return createConsentFlow({
      store,
      vault,
      providers,
      states: createConsentStates({ store, vault, now }),
      returnUrls: createReturnUrlPolicy(DEV_RETURN_URL_ORIGINS),
      oauth: createOAuthClient({ now, fetch }),
      keyCapture,
      publicUrl: () => "https://nexus.example",
      logger: pino({ level: "silent" }),
    });
  };

  before(async () => {
    dir = createTempDataDir();
    store = await createSqliteStore({ dataDir: dir.path, now: Date.now });
    await store.ensureTenant({ id: T });
  });
  after(async () => {
    await store.close();
    dir.remove();
  });
  beforeEach(() => {
    captured = [];
    flow = makeFlow({
      async begin(input) {
        captured.push(input);
        return { authUrl: "https://nexus.example/connect/capture/x", expiresAtMs: nowMs + 600_000 };
      },
    });
  });

  const request = (overrides: Record<string, unknown> = {}) => ({
    userId: "u1",
    providerName: "shop",
    scopes: [] as string[],
    returnUrl: RETURN,
    params: { shop: "acme" } as Record<string, string>,
    ...overrides,
  });

  const connectionCount = async () => (await store.listConnections(T, {}, { pageSize: 500 })).items.length;

  test("start: pending connection, authUrl on the shop's own host, redirect_uri under publicUrl", async () => {
    const started = await flow.start(T, request({ providerName: "SHOP", scopes: ["write", "read"] }));
    assert.equal(started.connection.status, "pending");
    assert.deepEqual(started.connection.scopes, ["read", "write"]);
    assert.deepEqual(started.connection.params, { shop: "acme" });
    const url = new URL(started.authUrl);
    assert.equal(url.host, "acme.shop.example");
    assert.equal(url.searchParams.get("redirect_uri"), "https://nexus.example/oauth/callback");
    assert.equal(url.searchParams.has("nonce"), false, "no issuer, no nonce");
    assert.equal(started.authUrlExpiresAtMs, nowMs + 10 * 60 * 1000);
  });

  test("start: each invalid field is an InvalidArgumentError naming it, and nothing is created", async () => {
    const before = await connectionCount();
    const cases: [Record<string, unknown>, string][] = [
      [{ userId: "" }, "user_id"],
      [{ userId: "x".repeat(257) }, "user_id"],
      [{ providerName: "" }, "provider_name"],
      [{ providerName: "no such/provider" }, "provider_name"],
      [{ scopes: Array.from({ length: 101 }, (_, i) => `s${i}`) }, "scopes"],
      [{ scopes: ["a b"] }, "scopes[0]"],
      [{ scopes: ["ok", ""] }, "scopes[1]"],
      [{ providerName: "legacy", params: {}, scopes: ["repo,admin"] }, "scopes[0]"],
      [{ params: {} }, "params[shop]"],
      [{ params: { shop: "acme", extra: "x" } }, "params[extra]"],
      [{ params: { shop: "acme", "Bad Key": "x" } }, "params"],
      [{ params: { shop: "acme.evil.com" } }, "params[shop]"],
      [{ params: { shop: "Acme" } }, "params[shop]"],
      [{ params: { shop: "evil.com/x" } }, "params[shop]"],
      [{ params: { shop: "a@b" } }, "params[shop]"],
      [{ params: { shop: "-acme" } }, "params[shop]"],
      [{ returnUrl: "" }, "return_url"],
      [{ returnUrl: "javascript:alert(1)" }, "return_url"],
    ];
    for (const [overrides, field] of cases) {
      await assert.rejects(flow.start(T, request(overrides)), (err: unknown) => {
        assert.ok(err instanceof InvalidArgumentError, `${JSON.stringify(overrides).slice(0, 60)}: ${String(err)}`);
        assert.equal(err.field, field, JSON.stringify(overrides).slice(0, 60));
        return true;
      });
    }
    await assert.rejects(flow.start(T, request({ returnUrl: "https://evil.example/cb" })), ReturnUrlNotAllowedError);
    // The return_url is refused before the provider is even looked up.
    await assert.rejects(
      flow.start(T, request({ providerName: "missing", returnUrl: "https://evil.example/cb" })),
      ReturnUrlNotAllowedError,
    );
    await assert.rejects(flow.start(T, request({ providerName: "missing" })), NotFoundError);
    assert.equal(await connectionCount(), before);
  });

  test("start: configuration and availability problems are refused before anything is created", async () => {
    const before = await connectionCount();
    await assert.rejects(flow.start(T, request({ providerName: "legacy", params: {} })), (err: unknown) => {
      assert.ok(err instanceof FailedPreconditionError);
      assert.equal(err.kind, "provider_misconfigured");
      assert.match(err.message, /no client secret configured/);
      return true;
    });
    await assert.rejects(flow.start(T, request({ providerName: "oidc", params: {} })), ProviderUnavailableError, "discovery unreachable");
    assert.equal(await connectionCount(), before);
    await assert.rejects(makeFlow().start(T, request({ providerName: "keys", params: {} })), NotImplementedError);
    assert.equal(await connectionCount(), before);
  });

  test("start: key providers hand a pending connection to the hosted capture", async () => {
    const started = await flow.start(T, request({ providerName: "keys", params: {} }));
    assert.equal(started.authUrl, "https://nexus.example/connect/capture/x");
    assert.equal(captured.length, 1);
    assert.equal(captured[0]?.connection.id, started.connection.id);
    assert.equal(captured[0]?.connection.status, "pending");
    assert.equal(captured[0]?.returnUrl, RETURN);
  });

  test("start: a client-credentials grant that fails transiently → Unavailable, connection failed", async () => {
    await assert.rejects(flow.start(T, { ...request({ providerName: "machine", params: {} }), returnUrl: "" }), ProviderUnavailableError);
    const [failed] = (await store.listConnections(T, { providerName: "machine" }, {})).items;
    assert.equal(failed?.status, "failed");
    assert.equal(failed?.statusReason, "token_request_failed");
  });

  test("reconnect: only from states that may go back to pending; same id, scopes kept or merged", async () => {
    const started = await flow.start(T, request({ scopes: ["write"] }));
    const id = started.connection.id;
    await assert.rejects(flow.reconnect(T, id, { returnUrl: RETURN, scopes: [] }), ConnectionNotUsableError, "pending");
    await store.updateConnectionStatus(T, id, "pending", "failed", "access_denied");
    const again = await flow.reconnect(T, id, { returnUrl: RETURN, scopes: [] });
    assert.equal(again.connection.id, id);
    assert.equal(again.connection.status, "pending");
    assert.equal(again.connection.statusReason, null);
    assert.deepEqual(again.connection.scopes, ["read", "write"]);
    assert.notEqual(new URL(again.authUrl).searchParams.get("state"), new URL(started.authUrl).searchParams.get("state"));
    await store.updateConnectionStatus(T, id, "pending", "active", null);
    const more = await flow.reconnect(T, id, { returnUrl: RETURN, scopes: ["admin"] });
    assert.deepEqual(more.connection.scopes, ["read", "admin"]);
    await store.updateConnectionStatus(T, id, "pending", "revoked", null);
    await assert.rejects(flow.reconnect(T, id, { returnUrl: RETURN, scopes: [] }), ConnectionNotUsableError, "revoked is final");
    await assert.rejects(flow.reconnect(T, id, { returnUrl: "https://evil.example/", scopes: [] }), ReturnUrlNotAllowedError);
    await assert.rejects(flow.reconnect("other-tenant", id, { returnUrl: RETURN, scopes: [] }), NotFoundError);
  });

  test("callback: untrustworthy states get the page; expiry follows the injected clock", async () => {
    const started = await flow.start(T, request());
    const state = new URL(started.authUrl).searchParams.get("state")!;
    for (const query of ["", "state=", "code=x&state=short", `code=x&state=${state.replace(/^./, state[0] === "A" ? "B" : "A")}`]) {
      const result = await flow.handleCallback(new URLSearchParams(query));
      assert.ok("page" in result && result.page.status === 400, query);
    }
    nowMs += 10 * 60 * 1000;
    const late = await flow.handleCallback(new URLSearchParams({ code: "c", state }));
    assert.ok("page" in late, "expired");
    assert.equal((await store.getConnection(T, started.connection.id)).status, "pending");
  });

  test("callback: provider errors are sanitized; a connection revoked meanwhile stays revoked", async () => {
    const denied = await flow.start(T, request());
    const deniedState = new URL(denied.authUrl).searchParams.get("state")!;
    const result = await flow.handleCallback(new URLSearchParams({ error: "<script>alert(1)</script>", state: deniedState }));
    assert.ok("redirect" in result);
    assert.equal(new URL(result.redirect).searchParams.get("error"), "provider_error");
    assert.equal((await store.getConnection(T, denied.connection.id)).statusReason, "provider_error");

    const revoked = await flow.start(T, request());
    await store.updateConnectionStatus(T, revoked.connection.id, "pending", "revoked", null);
    const late = await flow.handleCallback(new URLSearchParams({ code: "c", state: new URL(revoked.authUrl).searchParams.get("state")! }));
    assert.ok("redirect" in late);
    assert.equal(new URL(late.redirect).searchParams.get("error"), "connection_not_pending");
    assert.equal((await store.getConnection(T, revoked.connection.id)).status, "revoked");
    assert.equal(await store.getCredential(revoked.connection.id), null);
  });

  test("callback: success seals the token set as credential version 1 and activates", async () => {
    const started = await flow.start(T, request());
    const state = new URL(started.authUrl).searchParams.get("state")!;
    const result = await flow.handleCallback(new URLSearchParams({ code: "c", state }));
    assert.ok("redirect" in result);
    assert.equal(result.redirect, `${RETURN}?status=success&connection_id=${started.connection.id}`);
    const connection = await store.getConnection(T, started.connection.id);
    assert.equal(connection.status, "active");
    assert.equal(connection.credentialVersion, 1);
    const replay = await flow.handleCallback(new URLSearchParams({ code: "c", state }));
    assert.ok("page" in replay, "single use");
  });

  test("callback: reuse_existing ends only on a connection with the same params (the same account id in another shop is another connection)", async () => {
    const consent = async (overrides: Record<string, unknown>) => {
      const started = await flow.start(T, request({ providerName: "shopwho", userId: "u-reuse", ...overrides }));
      const result = await flow.handleCallback(
        new URLSearchParams({ code: "c", state: new URL(started.authUrl).searchParams.get("state")! }),
      );
      assert.ok("redirect" in result);
      return { id: started.connection.id, used: new URL(result.redirect).searchParams.get("connection_id") };
    };
    const acme = await consent({ params: { shop: "acme" } });
    assert.equal((await store.getConnection(T, acme.id)).account?.id, "u-same");
    const beta = await consent({ params: { shop: "beta" }, reuseExisting: true });
    assert.equal(beta.used, beta.id, "another shop: a new connection, not acme's");
    assert.equal((await store.getConnection(T, beta.id)).status, "active");
    const again = await consent({ params: { shop: "acme" }, reuseExisting: true });
    assert.equal(again.used, acme.id, "the same shop and account: reused");
    // Scopes compare as granted: a provider that renames them still gets its duplicate reused.
    const renamed = await consent({ params: { shop: "renamed" } });
    assert.deepEqual((await store.getConnection(T, renamed.id)).scopes, ["urn:shop:read"]);
    const renamedAgain = await consent({ params: { shop: "renamed" }, reuseExisting: true });
    assert.equal(renamedAgain.used, renamed.id);
  });
});
