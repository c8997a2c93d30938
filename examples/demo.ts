/**
 * `npm run demo`: Nexus and a real OpenID Provider (panva/oidc-provider, the one the tests use) on
 * this machine, wired together in under a minute. It registers the provider in Nexus, asks for a
 * connection the way a backend would, prints the consent URL, waits for you to consent in a browser
 * (any login name works), then prints the curl of GET /v1/token/{id} and its answer.
 *
 *   npm run demo              interactive: open the printed URL in a browser
 *   npm run demo -- --auto    drives the consent itself (what CI runs) and exits
 */
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { createApp } from "../server/app.ts";
import { generateApiKeySecret } from "../server/auth/api-key-secret.ts";
import { loadConfig } from "../server/config/config.ts";
import { generateKeyringText } from "../server/vault/keyring.ts";
import { driveConsent } from "../test/support/consent-driver.ts";
import { startOidcProvider } from "../test/support/oidc-provider.ts";

const { values } = parseArgs({
  options: { auto: { type: "boolean", default: false }, port: { type: "string", default: "0" } },
});
const say = (text = "") => process.stdout.write(`${text}\n`);

// A throwaway data directory: the demo never touches ./data.
const dataDir = mkdtempSync(path.join(os.tmpdir(), "nexus-demo-"));
// An admin key for registering the provider, and an agent key of tenant "demo" for the backend's calls.
const adminKey = generateApiKeySecret().secret;
const app = await createApp(
  loadConfig({
    NODE_ENV: "development",
    NEXUS_DATA_DIR: dataDir,
    NEXUS_ENCRYPTION_KEYS: generateKeyringText("demo"),
    NEXUS_ADMIN_API_KEY: adminKey,
    PORT: values.port,
    NEXUS_LOG_LEVEL: "warn",
  }),
);
const agentKey = (await app.apiKeys.create({ name: "demo backend", role: "agent", tenantId: "demo" })).secret;
const { port } = await app.listen();
const nexus = `http://127.0.0.1:${port}`;

// The "frontend" the user returns to after consent.
let resolveReturn: (url: URL) => void = () => {};
const returned = new Promise<URL>((resolve) => (resolveReturn = resolve));
const frontend = http.createServer((req, res) => {
  const url = new URL(req.url ?? "/", returnUrl);
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  res.end(
    `<!doctype html><title>Nexus demo</title><body style="font-family:system-ui;margin:3rem">` +
      `<h1>${url.searchParams.get("status") === "success" ? "Connected ✔" : "Not connected"}</h1>` +
      `<p>connection_id: <code>${(url.searchParams.get("connection_id") ?? "").replace(/[^\w-]/g, "")}</code></p>` +
      `<p>Back in the terminal, the demo fetches the token.</p></body>`,
  );
  resolveReturn(url);
});
await new Promise<void>((resolve) => frontend.listen(0, "127.0.0.1", resolve));
const returnUrl = `http://localhost:${(frontend.address() as AddressInfo).port}/oauth/return`;

const idp = await startOidcProvider({ redirectUris: [`${nexus}/oauth/callback`] });

async function call(method: string, pathname: string, body?: unknown, key = agentKey): Promise<Record<string, unknown>> {
  const auth = { authorization: `Bearer ${key}` };
  const res = await fetch(`${nexus}${pathname}`, {
    method,
    headers: body === undefined ? auth : { ...auth, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${method} ${pathname} → ${res.status} ${JSON.stringify(json)}`);
  return json;
}

try {
  say(`\nNexus         ${nexus}`);
  say(`OpenID issuer ${idp.issuer}`);
  await call(
    "POST",
    "/v1/providers",
    {
      name: "demo-idp",
      display_name: "Demo OpenID Provider",
      category: "demo",
      auth_type: "oauth2",
      oauth: {
        issuer: idp.issuer,
        client_id: idp.clientId,
        client_secret: idp.clientSecret,
        client_auth_method: "client_secret_basic",
        default_scopes: ["openid", "offline_access"],
        authorize_params: { prompt: "consent" },
      },
      strategy: { type: "oauth2" },
    },
    adminKey,
  );
  say(`\n1. Registered provider "demo-idp" (POST /v1/providers; its client secret is stored encrypted).`);

  const requested = await call("POST", "/v1/request-connection", {
    user_id: "demo-user",
    provider_name: "demo-idp",
    scopes: ["api:read"],
    return_url: returnUrl,
  });
  const authUrl = String(requested.authUrl);
  const connectionId = String(requested.connection_id);
  say(`2. POST /v1/request-connection → connection_id ${connectionId} (status ${String(requested.status)})`);

  if (values.auto) {
    say(`3. Consenting automatically (login "alice")…`);
    const drive = await driveConsent(authUrl, { stopAt: returnUrl });
    await fetch(drive.url); // the browser's last hop: the return URL Nexus redirected to
  } else {
    say(`3. Open this URL in a browser, sign in with any name (e.g. alice) and approve:\n\n   ${authUrl}\n`);
  }
  const back = await returned;
  say(`4. Back at ${back.origin}${back.pathname} with status=${back.searchParams.get("status") ?? "?"}`);

  const check = await call("GET", `/v1/check-connection/${connectionId}`);
  say(`\n$ export NEXUS_API_KEY=${agentKey}   # the demo tenant's agent key (throwaway)`);
  say(`\n$ curl -s -H "authorization: Bearer $NEXUS_API_KEY" ${nexus}/v1/check-connection/${connectionId}\n${JSON.stringify(check)}`);
  const token = await call("GET", `/v1/token/${connectionId}`);
  say(`\n$ curl -s -H "authorization: Bearer $NEXUS_API_KEY" ${nexus}/v1/token/${connectionId}\n${JSON.stringify(token, null, 2)}`);
  if (!values.auto) {
    say(`\nNexus keeps running: try the curl above yourself. Ctrl-C to stop.`);
    await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
  }
} finally {
  await app.close();
  await idp.close();
  frontend.closeAllConnections();
  frontend.close();
  rmSync(dataDir, { recursive: true, force: true });
}
