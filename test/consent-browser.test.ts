/**
 * The consent flow in a real browser: headless Chromium (Debian's /usr/bin/chromium through
 * playwright-core) opens the authUrl, signs in on oidc-provider's login page, approves on its
 * consent page, and must land on the app's return_url with status=success.
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { type Browser, chromium } from "playwright-core";
import { getJson, registerOidcProvider, requestConnection } from "./support/consent-fixtures.ts";
import { startOidcProvider, type TestOidcProvider } from "./support/oidc-provider.ts";
import { startServer, type TestServer } from "./support/start-server.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/consent-browser.test.ts", () => {
  let server: TestServer;
  let idp: TestOidcProvider;
  let app: http.Server;
  let appUrl: string;
  let browser: Browser | undefined;

  before(async () => {
    server = await startServer();
    idp = await startOidcProvider({ redirectUris: [`${server.baseUrl}/oauth/callback`] });
    await registerOidcProvider(server.app, "test-idp", idp);
    // The "application" the browser returns to: any page will do, the test reads the URL.
    app = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<!DOCTYPE html><title>back in the app</title>");
    });
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
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
  });

  after(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (app ? app.close(() => resolve()) : resolve()));
    await idp?.close();
    await server?.close();
  });

  test("headless Chromium: sign in, approve, land on the return_url with status=success", async () => {
    const started = await requestConnection(server, {
      user_id: "browser-user",
      provider_name: "test-idp",
      return_url: `${appUrl}/done`,
    });
    assert.equal(started.status, 200, JSON.stringify(started.body));

    const page = await browser!.newPage();
    try {
      // domcontentloaded: the provider's page imports a web font, which can't load offline.
      await page.goto(started.body.authUrl, { waitUntil: "domcontentloaded" });
      await page.fill('input[name="login"]', "browser-user");
      await page.fill('input[name="password"]', "any password");
      await Promise.all([page.waitForURL(/\/interaction\//, { waitUntil: "domcontentloaded" }), page.click('button[type="submit"]')]);
      await page.waitForSelector('input[name="prompt"][value="consent"]', { state: "attached" });
      await Promise.all([
        page.waitForURL((url) => url.href.startsWith(`${appUrl}/done`), { waitUntil: "domcontentloaded" }),
        page.click('button[type="submit"]'),
      ]);
      const landed = new URL(page.url());
      assert.equal(landed.searchParams.get("status"), "success");
      assert.equal(landed.searchParams.get("connection_id"), started.body.connection_id);
    } finally {
      await page.close();
    }
    const check = await getJson(server, `/v1/check-connection/${started.body.connection_id}`);
    assert.equal(check.body.status, "active");
  });
});
