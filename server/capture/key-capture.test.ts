import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import { acmeProfile, type CaptureFixture, postForm, startCaptureFixture } from "../../test/support/capture-fixture.ts";
import { ConnectionNotUsableError, InvalidArgumentError } from "../domain/errors.ts";
import { credentialAad, decodeStoredSecret } from "../domain/stored-secret.ts";

const GOOD_KEY = "sk_live_4f9c2a7e1b";

function expectSecurityHeaders(res: Response, referrerPolicy = "no-referrer"): void {
  const csp = res.headers.get("content-security-policy") ?? "";
  for (const directive of [
    "default-src 'none'",
    "style-src 'unsafe-inline'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ]) {
    assert.ok(csp.includes(directive), `CSP has ${directive}: ${csp}`);
  }
  assert.equal(res.headers.get("x-frame-options"), "DENY");
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  assert.equal(res.headers.get("referrer-policy"), referrerPolicy);
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.match(res.headers.get("content-type") ?? "", /^text\/html; charset=utf-8$/);
}

describe("key capture over HTTP", () => {
  let fx: CaptureFixture;
  beforeEach(async () => {
    fx = await startCaptureFixture();
  });
  afterEach(async () => {
    await fx.close();
  });

  test("begin returns a capture URL under the public URL", async () => {
    const { authUrl } = await fx.begin(acmeProfile());
    assert.match(authUrl, new RegExp(`^${fx.origin}/connect/capture/[A-Za-z0-9_-]{43}$`));
  });

  test("GET renders the form from the schema, with the security headers", async () => {
    const { authUrl } = await fx.begin(acmeProfile());
    const res = await fetch(authUrl);
    assert.equal(res.status, 200);
    expectSecurityHeaders(res, "same-origin");
    assert.ok(res.headers.get("content-security-policy")?.includes("form-action 'self' http://app.example.com"));
    const html = await res.text();
    assert.match(html, /<h1>Connect Acme API<\/h1>/);
    assert.match(html, /returned to <strong>app\.example\.com<\/strong>/);
    assert.match(html, /<label for="f0">API key<span class="req" aria-hidden="true">\*<\/span><\/label>/);
    assert.match(
      html,
      /<input id="f0" name="api_key" required [^>]*type="password" autocomplete="off"[^>]*maxlength="64"[^>]*pattern="\^sk_\[\\s\\S\]\*"/,
    );
    assert.match(html, /Find it under Settings → API keys\./);
    assert.match(
      html,
      /<select id="f1" name="region" required><option value="">Choose…<\/option><option value="eu">eu<\/option><option value="us">us<\/option><\/select>/,
    );
    assert.match(html, /<label for="f2">Account name<\/label>/, "optional field has no marker");
    assert.match(html, /<input id="f2" name="account" type="text"/);
    assert.ok(!html.includes("<script"), "no script at all");
  });

  test("operator text is escaped", async () => {
    const profile = acmeProfile({ displayName: `Evil"><img src=x onerror=alert(1)>` });
    const schema = structuredClone(profile.credentialSchema) as { properties: Record<string, Record<string, unknown>> };
    schema.properties.api_key!.title = "<script>alert(1)</script>";
    schema.properties.api_key!.description = "a & b 'quoted'";
    profile.credentialSchema = schema;
    const { authUrl } = await fx.begin(profile);
    const html = await (await fetch(authUrl)).text();
    assert.ok(!html.includes("<script>"), "title not injected");
    assert.ok(!html.includes("<img"), "display name not injected");
    assert.ok(html.includes("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert.ok(html.includes("Evil&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
    assert.ok(html.includes("a &amp; b &#39;quoted&#39;"));
  });

  test("a valid submission stores the fields sealed, activates the connection and redirects", async () => {
    const { connection, path } = await fx.begin(acmeProfile());
    const res = await postForm(fx, path, { api_key: GOOD_KEY, region: "eu", account: "", _nexus_action: "submit" });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get("location"), `http://app.example.com/done?tab=1&status=success&connection_id=${connection.id}`);
    assert.equal(res.headers.get("referrer-policy"), "no-referrer");

    const stored = await fx.store.getCredential(connection.id);
    assert.ok(stored);
    assert.equal(stored.version, 1);
    assert.equal(stored.expiresAtSeconds, null);
    assert.ok(!Buffer.from(stored.secret.ciphertext).toString("latin1").includes(GOOD_KEY), "ciphertext hides the key");
    const secret = decodeStoredSecret(fx.vault.open(stored.secret, credentialAad(connection.id, 1)));
    assert.deepEqual(secret, { kind: "fields", fields: { api_key: GOOD_KEY, region: "eu" } });

    const after = await fx.store.getConnection("t", connection.id);
    assert.equal(after.status, "active");
    assert.equal(after.credentialVersion, 1);
    assert.ok(!fx.logs().includes(GOOD_KEY), "the key is never logged");
    assert.match(fx.logs(), new RegExp(`"connectionId":"${connection.id}","provider":"acme","outcome":"stored"`));
  });

  test("invalid input re-renders with messages, keeps non-secret values, hides secrets, keeps the state", async () => {
    const { connection, path } = await fx.begin(acmeProfile());
    const wrongKey = "pk_wrong_7c1d9e";
    const res = await postForm(fx, path, { api_key: wrongKey, region: "mars", account: "team-blue" });
    assert.equal(res.status, 400);
    expectSecurityHeaders(res, "same-origin");
    const html = await res.text();
    assert.match(html, /<p class="error" id="f0-error">This value does not have the expected format\.<\/p>/);
    assert.match(html, /<p class="error" id="f1-error">Choose one of the listed values\.<\/p>/);
    assert.match(html, /name="account" [^>]*value="team-blue"/);
    assert.ok(!html.includes(wrongKey), "the secret value is not echoed");
    assert.ok(!fx.logs().includes(wrongKey), "nor logged");

    const missing = await postForm(fx, path, { api_key: "", region: "us" });
    assert.equal(missing.status, 400);
    assert.match(await missing.text(), /<p class="error" id="f0-error">This field is required\.<\/p>/);

    assert.equal((await fx.store.getConnection("t", connection.id)).status, "pending");
    const retry = await postForm(fx, path, { api_key: GOOD_KEY, region: "us" });
    assert.equal(retry.status, 303, "the state survived the failed attempts");
  });

  test("a second submission finds the state used and changes nothing", async () => {
    const { connection, path } = await fx.begin(acmeProfile());
    assert.equal((await postForm(fx, path, { api_key: GOOD_KEY, region: "eu" })).status, 303);
    const replay = await postForm(fx, path, { api_key: "sk_attacker_key", region: "us" });
    assert.equal(replay.status, 410);
    assert.equal(replay.headers.get("location"), null);
    expectSecurityHeaders(replay);
    assert.match(await replay.text(), /already been used/);
    const stored = await fx.store.getCredential(connection.id);
    assert.equal(stored?.version, 1);
    const secret = decodeStoredSecret(fx.vault.open(stored!.secret, credentialAad(connection.id, 1)));
    assert.equal(secret.kind === "fields" && secret.fields.api_key, GOOD_KEY);
    assert.equal((await fetch(`${fx.origin}${path}`)).status, 410, "GET of a used state");
  });

  test("an expired state shows an error page and stores nothing", async () => {
    const { connection, path } = await fx.begin(acmeProfile());
    fx.clock.nowMs += 10 * 60 * 1000;
    const page = await fetch(`${fx.origin}${path}`, { redirect: "manual" });
    assert.equal(page.status, 410);
    expectSecurityHeaders(page);
    assert.match(await page.text(), /expired/);
    const post = await postForm(fx, path, { api_key: GOOD_KEY, region: "eu" });
    assert.equal(post.status, 410);
    assert.equal(await fx.store.getCredential(connection.id), null);
    assert.equal((await fx.store.getConnection("t", connection.id)).status, "pending");
  });

  test("unknown and malformed states get a plain error page, other paths are not handled", async () => {
    const unknown = await fetch(`${fx.origin}/connect/capture/${randomBytes(32).toString("base64url")}`, { redirect: "manual" });
    assert.equal(unknown.status, 400);
    expectSecurityHeaders(unknown);
    assert.match(await unknown.text(), /not valid/);
    assert.equal((await fetch(`${fx.origin}/connect/capture/a.b`)).status, 400);
    assert.equal((await fetch(`${fx.origin}/connect/capture/`)).status, 404);
    assert.equal((await fetch(`${fx.origin}/connect/other`)).status, 404);
    const { path } = await fx.begin(acmeProfile());
    const put = await fetch(`${fx.origin}${path}`, { method: "PUT" });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get("allow"), "GET, POST");
  });

  test("an OAuth state does not open the capture form", async () => {
    const connection = await fx.store.createConnection({ tenantId: "t", userId: "u", providerName: "acme" });
    const { createConsentStates } = await import("../consent/consent-states.ts");
    const states = createConsentStates({ store: fx.store, vault: fx.vault, now: () => fx.clock.nowMs });
    const issued = await states.issue(connection.id, "http://app.example.com/", { flow: "oauth", codeVerifier: "v" });
    assert.equal((await fetch(`${fx.origin}/connect/capture/${issued.state}`)).status, 400);
  });

  test("a foreign or unknown origin is refused with 403 and the state stays usable", async () => {
    const { path } = await fx.begin(acmeProfile());
    const form = { api_key: GOOD_KEY, region: "eu" };
    const refused: Record<string, string>[] = [
      { origin: "http://evil.example" },
      { origin: "null" },
      { origin: fx.origin.replace("127.0.0.1", "localhost") },
      { origin: "" },
      { origin: "", referer: "http://evil.example/page" },
    ];
    for (const headers of refused) {
      const res = await postForm(fx, path, form, headers);
      assert.equal(res.status, 403, JSON.stringify(headers));
      expectSecurityHeaders(res);
    }
    const viaReferer = await postForm(fx, path, form, { origin: "", referer: `${fx.origin}${path}` });
    assert.equal(viaReferer.status, 303, "Referer is the fallback when a browser sends no Origin");
  });

  test("only urlencoded forms within the size limit are read", async () => {
    const { connection, path } = await fx.begin(acmeProfile());
    for (const contentType of [
      "application/json",
      "multipart/form-data; boundary=x",
      "text/plain",
      "",
      "application/x-www-form-urlencoded; charset=iso-8859-1",
    ]) {
      const res = await postForm(fx, path, { api_key: GOOD_KEY, region: "eu" }, { "content-type": contentType });
      assert.equal(res.status, 415, contentType);
    }
    const big = await postForm(fx, path, { api_key: GOOD_KEY, region: "eu", filler: "x".repeat(70 * 1024) });
    assert.equal(big.status, 413);
    expectSecurityHeaders(big);
    assert.equal(await fx.store.getCredential(connection.id), null);
    assert.equal((await postForm(fx, path, { api_key: GOOD_KEY, region: "eu" })).status, 303);
  });

  test("cancel fails the connection with access_denied and uses the state", async () => {
    const { connection, path } = await fx.begin(acmeProfile());
    const res = await postForm(fx, path, { api_key: "", region: "", _nexus_action: "cancel" });
    assert.equal(res.status, 303);
    const location = new URL(res.headers.get("location") ?? "");
    assert.equal(location.origin + location.pathname, "http://app.example.com/done");
    assert.equal(location.searchParams.get("status"), "error");
    assert.equal(location.searchParams.get("error"), "access_denied");
    assert.equal(location.searchParams.get("connection_id"), connection.id);
    const after = await fx.store.getConnection("t", connection.id);
    assert.equal(after.status, "failed");
    assert.equal(after.statusReason, "access_denied");
    assert.equal((await postForm(fx, path, { api_key: GOOD_KEY, region: "eu" })).status, 410);
  });

  test("a connection revoked meanwhile ends with connection_not_pending and nothing stored", async () => {
    const { connection, path } = await fx.begin(acmeProfile());
    await fx.store.updateConnectionStatus("t", connection.id, ["pending"], "revoked", "revoked_by_admin");
    const res = await postForm(fx, path, { api_key: GOOD_KEY, region: "eu" });
    assert.equal(res.status, 303);
    const location = new URL(res.headers.get("location") ?? "");
    assert.equal(location.searchParams.get("status"), "error");
    assert.equal(location.searchParams.get("error"), "connection_not_pending");
    assert.equal(await fx.store.getCredential(connection.id), null);
    assert.equal((await fx.store.getConnection("t", connection.id)).status, "revoked");
  });

  test("opening the form of a connection that is no longer pending sends the user back", async () => {
    const { connection, path } = await fx.begin(acmeProfile());
    await fx.store.updateConnectionStatus("t", connection.id, ["pending"], "revoked", null);
    const res = await fetch(`${fx.origin}${path}`, { redirect: "manual" });
    assert.equal(res.status, 303);
    assert.match(res.headers.get("location") ?? "", /status=error&connection_id=[^&]+&error=connection_not_pending$/);
  });

  test("works over HTTP/2, as the one-port listener hands requests over", async () => {
    const { connection, path } = await fx.begin(acmeProfile());
    const server = http2.createServer((req, res) => {
      void fx.capture.handle(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const call = (headers: http2.OutgoingHttpHeaders, body?: string) =>
      new Promise<{ headers: http2.IncomingHttpHeaders; body: string }>((resolve, reject) => {
        const stream = client.request(headers);
        let text = "";
        let responseHeaders: http2.IncomingHttpHeaders = {};
        stream.on("response", (h) => (responseHeaders = h));
        stream.on("data", (chunk: Buffer) => (text += chunk.toString()));
        stream.on("end", () => resolve({ headers: responseHeaders, body: text }));
        stream.on("error", reject);
        stream.end(body);
      });
    try {
      const page = await call({ ":method": "GET", ":path": path });
      assert.equal(page.headers[":status"], 200);
      assert.equal(page.headers["x-frame-options"], "DENY");
      assert.match(page.body, /name="api_key"/);
      const posted = await call(
        {
          ":method": "POST",
          ":path": path,
          origin: fx.origin,
          "content-type": "application/x-www-form-urlencoded",
        },
        new URLSearchParams({ api_key: GOOD_KEY, region: "us" }).toString(),
      );
      assert.equal(posted.headers[":status"], 303);
      assert.match(String(posted.headers.location), /status=success/);
      assert.equal((await fx.store.getConnection("t", connection.id)).status, "active");
    } finally {
      client.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test("begin refuses non-pending connections, OAuth providers and unusable schemas", async () => {
    const { connection } = await fx.begin(acmeProfile());
    const provider = { profile: acmeProfile(), hasClientSecret: false, createdAtMs: 0, updatedAtMs: 0 };
    const returnUrl = "http://app.example.com/";
    await fx.store.updateConnectionStatus("t", connection.id, ["pending"], "failed", "access_denied");
    await assert.rejects(
      fx.capture.begin({ connection: { ...connection, status: "failed" }, provider, returnUrl }),
      ConnectionNotUsableError,
    );
    const pending = await fx.store.createConnection({ tenantId: "t", userId: "u", providerName: "acme" });
    await assert.rejects(
      fx.capture.begin({ connection: pending, provider: { ...provider, profile: acmeProfile({ authType: "oauth2" }) }, returnUrl }),
      InvalidArgumentError,
    );
    const noKey = acmeProfile({ credentialSchema: { type: "object", properties: { token: { type: "string" } }, required: ["token"] } });
    await assert.rejects(fx.capture.begin({ connection: pending, provider: { ...provider, profile: noKey }, returnUrl }), /api_key/);
  });
});

describe("key capture with a live test endpoint", () => {
  let fx: CaptureFixture;
  let providerServer: http.Server;
  let providerUrl = "";
  let answer5xx = false;
  const seenKeys: string[] = [];
  before(async () => {
    providerServer = http.createServer((req, res) => {
      const key = req.headers["x-api-key"];
      seenKeys.push(String(key));
      if (answer5xx) res.writeHead(503);
      else res.writeHead(key === "sk_good" ? 200 : 401, { "content-type": "application/json" });
      res.end("{}");
    });
    await new Promise<void>((resolve) => providerServer.listen(0, "127.0.0.1", resolve));
    providerUrl = `http://127.0.0.1:${(providerServer.address() as AddressInfo).port}/v1/me`;
    fx = await startCaptureFixture();
  });
  after(async () => {
    await fx.close();
    providerServer.closeAllConnections();
    await new Promise<void>((resolve) => providerServer.close(() => resolve()));
  });

  test("a rejected key re-renders, an unreachable provider asks to retry, the good key succeeds", async () => {
    const { connection, path } = await fx.begin(acmeProfile({ testEndpoint: providerUrl }));
    const bad = await postForm(fx, path, { api_key: "sk_bad", region: "eu", account: "ops" });
    assert.equal(bad.status, 400);
    const badHtml = await bad.text();
    assert.match(badHtml, /Acme API rejected these credentials/);
    assert.ok(!badHtml.includes("sk_bad"));
    assert.match(badHtml, /name="account" [^>]*value="ops"/);

    answer5xx = true;
    const down = await postForm(fx, path, { api_key: "sk_good", region: "eu" });
    assert.equal(down.status, 502);
    assert.match(await down.text(), /could not be verified/);
    answer5xx = false;

    assert.equal((await fx.store.getConnection("t", connection.id)).status, "pending");
    const good = await postForm(fx, path, { api_key: "sk_good", region: "eu" });
    assert.equal(good.status, 303);
    assert.match(good.headers.get("location") ?? "", /status=success/);
    assert.deepEqual(seenKeys, ["sk_bad", "sk_good", "sk_good"]);
    assert.equal((await fx.store.getConnection("t", connection.id)).status, "active");
    assert.ok(!fx.logs().includes("sk_good") && !fx.logs().includes("sk_bad"));
    assert.match(fx.logs(), /"outcome":"rejected_by_provider","httpStatus":401/);
  });

  test("a state cannot be used as an oracle: after 5 live checks the connection fails", async () => {
    const { connection, path } = await fx.begin(acmeProfile({ testEndpoint: providerUrl }));
    seenKeys.length = 0;
    for (let i = 0; i < 5; i++) {
      assert.equal((await postForm(fx, path, { api_key: `sk_guess${i}`, region: "eu" })).status, 400);
    }
    const sixth = await postForm(fx, path, { api_key: "sk_good", region: "eu" });
    assert.equal(sixth.status, 303);
    assert.match(sixth.headers.get("location") ?? "", /status=error&connection_id=[^&]+&error=too_many_attempts$/);
    assert.equal(seenKeys.length, 5, "the sixth key never reached the provider");
    const after = await fx.store.getConnection("t", connection.id);
    assert.equal(after.status, "failed");
    assert.equal(after.statusReason, "too_many_attempts");
    assert.equal(await fx.store.getCredential(connection.id), null);
  });
});
