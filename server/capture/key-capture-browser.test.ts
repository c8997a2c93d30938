import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { type Browser, chromium } from "playwright-core";
import { acmeProfile, type CaptureFixture, startCaptureFixture } from "../../test/support/capture-fixture.ts";
import { credentialAad, decodeStoredSecret } from "../domain/stored-secret.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("server/capture/key-capture-browser.test.ts", () => {
  const CHROMIUM = "/usr/bin/chromium";
  const SCREENSHOT = "/tmp/capture-form.png";

  let fx: CaptureFixture;
  let app: http.Server;
  let appOrigin = "";
  let browser: Browser | undefined;

  before(async () => {
    fx = await startCaptureFixture();
    // The "app" the user returns to: another origin (port), as in real life.
    app = http.createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(`<!doctype html><title>App</title><p id="status">${url.searchParams.get("status") ?? ""}</p>`);
    });
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    appOrigin = `http://localhost:${(app.address() as AddressInfo).port}`;
  });

  after(async () => {
    await browser?.close();
    app.closeAllConnections();
    await new Promise<void>((resolve) => app.close(() => resolve()));
    await fx.close();
  });

  test("a user fills the form in Chromium and lands back on the app", {
    skip: !fs.existsSync(CHROMIUM) && `${CHROMIUM} missing`,
    timeout: 60_000,
  }, async () => {
    const { connection, authUrl } = await fx.begin(acmeProfile(), `${appOrigin}/done?tab=1`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    const page = await browser.newPage({ viewport: { width: 720, height: 640 } });
    const violations: string[] = [];
    page.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });

    await page.goto(authUrl);
    assert.equal(await page.title(), "Connect Acme API");
    await page.getByLabel("API key").fill("sk_browser_9f8e7d");
    await page.getByLabel("Region").selectOption("eu");
    await page.getByLabel("Account name").fill("research");
    assert.equal(await page.getByLabel("API key").getAttribute("type"), "password");
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    await Promise.all([page.waitForURL(`${appOrigin}/done**`), page.getByRole("button", { name: "Connect" }).click()]);
    const landed = new URL(page.url());
    assert.equal(landed.searchParams.get("status"), "success");
    assert.equal(landed.searchParams.get("connection_id"), connection.id);
    assert.equal(landed.searchParams.get("tab"), "1");
    assert.equal(await page.textContent("#status"), "success");
    assert.deepEqual(violations, [], "no CSP violation (form-action covers the redirect back)");

    assert.equal((await fx.store.getConnection("t", connection.id)).status, "active");
    const stored = await fx.store.getCredential(connection.id);
    assert.ok(stored);
    const secret = decodeStoredSecret(fx.vault.open(stored.secret, credentialAad(connection.id, stored.version)));
    assert.deepEqual(secret, { kind: "fields", fields: { api_key: "sk_browser_9f8e7d", region: "eu", account: "research" } });
  });
});
