/**
 * Test fixture for the key-capture tests: a real SQLite store in a temp dir, a real vault and
 * consent states on an injectable clock, a pino logger whose lines the test can scan, and a real
 * node:http server on port 0 serving `handle`. Test-only; nothing in the server imports it.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { createKeyCapture, type KeyCapture, type KeyCaptureDeps } from "../../server/capture/key-capture.ts";
import { createConsentStates } from "../../server/consent/consent-states.ts";
import { createLogger } from "../../server/logging/logger.ts";
import type { ProviderProfile, StoredProvider } from "../../server/providers/profile.ts";
import { createSqliteStore } from "../../server/store/sqlite/store.ts";
import type { ConnectionRecord, JsonObject, Store } from "../../server/store/store.ts";
import { generateKeyringText, parseKeyring } from "../../server/vault/keyring.ts";
import { createVault, type Vault } from "../../server/vault/vault.ts";
import { createTempDataDir } from "./temp-data-dir.ts";

/** A running capture server and what it is built on. */
export interface CaptureFixture {
  store: Store;
  vault: Vault;
  capture: KeyCapture;
  /** The server's origin, also its public URL. */
  origin: string;
  /** Moves the shared clock. */
  clock: { nowMs: number };
  /** Every log line written so far. */
  logs(): string;
  /** Creates a provider and a pending connection for it, and begins capture. */
  begin(profile: ProviderProfile, returnUrl?: string): Promise<{ connection: ConnectionRecord; authUrl: string; path: string }>;
  close(): Promise<void>;
}

/** The provider most tests use: a header API key with a pattern, an enum and a free-text field. */
export function acmeProfile(overrides: Partial<ProviderProfile> = {}): ProviderProfile {
  return {
    name: "acme",
    displayName: "Acme API",
    category: "developer",
    authType: "api_key",
    credentialSchema: {
      type: "object",
      properties: {
        api_key: {
          type: "string",
          title: "API key",
          description: "Find it under Settings → API keys.",
          writeOnly: true,
          pattern: "^sk_",
          maxLength: 64,
        },
        region: { type: "string", title: "Region", enum: ["eu", "us"] },
        account: { type: "string", title: "Account name", maxLength: 20 },
      },
      required: ["api_key", "region"],
    },
    strategy: { type: "header", headerName: "X-Api-Key", credentialField: "api_key", valuePrefix: "" },
    urlParams: [],
    ...overrides,
  };
}

/** Starts the fixture; `deps` overrides the capture's dependencies (e.g. fetch). */
export async function startCaptureFixture(deps: Partial<KeyCaptureDeps> = {}): Promise<CaptureFixture> {
  const dir = createTempDataDir("nexus-capture-");
  // One fake clock, started at the wall time, for the store and the capture alike.
  const clock = { nowMs: Date.now() };
  const now = () => clock.nowMs;
  const store = await createSqliteStore({ dataDir: dir.path, now });
  await store.ensureTenant({ id: "t" });
  const vault = createVault(parseKeyring(generateKeyringText()));
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString());
      callback();
    },
  });
  const logger = createLogger({ level: "debug", destination });
  let origin = "";
  const capture = createKeyCapture({
    store,
    vault,
    states: createConsentStates({ store, vault, now }),
    publicUrl: () => `${origin}/`,
    now,
    logger,
    ...deps,
  });
  const server = http.createServer((req, res) => {
    capture.handle(req, res).then(
      (handled) => {
        if (!handled) {
          res.writeHead(404, { "content-type": "text/plain" });
          res.end("not found");
        }
      },
      (err: unknown) => {
        res.writeHead(500);
        res.end(String(err));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    store,
    vault,
    capture,
    origin,
    clock,
    logs: () => lines.join(""),
    async begin(profile, returnUrl = "http://app.example.com/done?tab=1") {
      const existing = await store.listProviders({});
      if (!existing.items.some((p) => p.name === profile.name)) {
        await store.createProvider({ name: profile.name, profile: profile as unknown as JsonObject });
      } else {
        await store.updateProvider(profile.name, { profile: profile as unknown as JsonObject });
      }
      const connection = await store.createConnection({ tenantId: "t", userId: "u1", providerName: profile.name, returnUrl });
      const provider: StoredProvider = { profile, hasClientSecret: false, createdAtMs: 0, updatedAtMs: 0 };
      const { authUrl } = await capture.begin({ connection, provider, returnUrl });
      return { connection, authUrl, path: new URL(authUrl).pathname };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
      dir.remove();
    },
  };
}

/**
 * POSTs an urlencoded form with a same-origin Origin header unless `headers` says otherwise; a
 * header given as "" is left out.
 */
export async function postForm(
  fixture: CaptureFixture,
  path: string,
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${fixture.origin}${path}`, {
    method: "POST",
    redirect: "manual",
    headers: Object.fromEntries(
      Object.entries({ origin: fixture.origin, "content-type": "application/x-www-form-urlencoded", ...headers }).filter(
        ([, value]) => value !== "",
      ),
    ),
    body: new URLSearchParams(form).toString(),
  });
}
