/**
 * The refresh tests' setup: a Nexus server (the test backend: SQLite or PostgreSQL), a real OpenID
 * Provider whose access tokens live a few seconds, registered as provider "test-idp", and consent
 * driven over HTTP to make active connections. Nexus refreshes 1 s before expiry
 * (NEXUS_REFRESH_SKEW_MS), so a 3-second token is refreshed about every 2 s. Also the figures the
 * tests report (latency percentiles), printed as test diagnostics.
 */
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { TokenService } from "../../gen/nexus/v1/tokens_pb.ts";
import type { App, AppOverrides } from "../../server/app.ts";
import { credentialAad, decodeStoredSecret, type OAuthTokenSet } from "../../server/domain/stored-secret.ts";
import type { FetchFn } from "../../server/oauth/request-options.ts";
import { generateKeyringText } from "../../server/vault/keyring.ts";
import { driveConsent } from "./consent-driver.ts";
import { registerOidcProvider, requestConnection } from "./consent-fixtures.ts";
import { startOidcProvider, type TestOidcProvider, type TokenRequestRecord } from "./oidc-provider.ts";
import { startServer, type TestServer } from "./start-server.ts";
import { TEST_STORE } from "./test-store.ts";

/** Where consents return to (never fetched). */
const RETURN_PREFIX = "http://localhost:3000/done";

/** The provider name the rig registers. */
export const RIG_PROVIDER = "test-idp";

/** Options of `startRefreshRig`. */
export interface RefreshRigOptions {
  /** Whether the provider rotates refresh tokens on every refresh. Default true. */
  rotate?: boolean;
  /** Access-token lifetime, seconds. Default 3. */
  accessTtlSeconds?: number;
  /** More server environment (NEXUS_REFRESH_SKEW_MS is 1000 unless given). */
  env?: Record<string, string>;
  /** Wraps the server's outbound fetch (provider calls); gets the default fetch. */
  wrapFetch?: (fetch: FetchFn) => FetchFn;
  /** More app overrides. */
  overrides?: Omit<AppOverrides, "logDestination" | "fetch">;
}

/** The running setup. */
export interface RefreshRig {
  readonly server: TestServer;
  readonly idp: TestOidcProvider;
  /** TokenService over gRPC with the server's agent key. */
  readonly tokens: Client<typeof TokenService>;
  /** Consents a new connection at the provider (login "alice"); returns its id. */
  connect(userId?: string): Promise<string>;
  /**
   * Environment for more replicas (spawnReplica) on this server's storage: its DATABASE_URL (on
   * PostgreSQL), encryption keys, admin key and refresh skew.
   */
  readonly replicaEnv: Readonly<Record<string, string>>;
  /** refresh_token requests the provider has received (any outcome), from index `from` of all token requests. */
  refreshRequests(from?: number): TokenRequestRecord[];
  close(): Promise<void>;
}

/** Starts the server and the provider; nothing is connected yet. */
export async function startRefreshRig(options: RefreshRigOptions = {}): Promise<RefreshRig> {
  // Explicit keys (not the data directory's development keyring) so spawned replicas share them.
  const env = { NEXUS_REFRESH_SKEW_MS: "1000", NEXUS_ENCRYPTION_KEYS: generateKeyringText("k1"), ...options.env };
  const server = await startServer({
    env,
    overrides: { ...options.overrides, ...(options.wrapFetch ? { fetch: options.wrapFetch((url, init) => fetch(url, init)) } : {}) },
  });
  let idp: TestOidcProvider;
  try {
    idp = await startOidcProvider({
      redirectUris: [`${server.baseUrl}/oauth/callback`],
      ttl: { AccessToken: options.accessTtlSeconds ?? 3 },
      rotateRefreshToken: options.rotate ?? true,
    });
    await registerOidcProvider(server.app, RIG_PROVIDER, idp);
  } catch (error) {
    await server.close();
    throw error;
  }
  return {
    server,
    idp,
    tokens: createClient(TokenService, createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [server.bearer()] })),
    replicaEnv: {
      ...(server.storeEnv.DATABASE_URL === undefined ? {} : { DATABASE_URL: server.storeEnv.DATABASE_URL }),
      NEXUS_ENCRYPTION_KEYS: env.NEXUS_ENCRYPTION_KEYS,
      NEXUS_ADMIN_API_KEY: server.adminKey,
      NEXUS_REFRESH_SKEW_MS: env.NEXUS_REFRESH_SKEW_MS,
    },
    connect: (userId = "user-1") => connectThroughConsent(server, userId),
    refreshRequests: (from = 0) =>
      idp.tokenRequests.slice(from).filter((r) => r.grantType === "refresh_token" || r.outcome === "unavailable"),
    async close() {
      await server.close();
      await idp.close();
    },
  };
}

/** request-connection on `server`, then the provider's login and consent pages; asserts success. */
export async function connectThroughConsent(server: Pick<TestServer, "baseUrl" | "auth">, userId = "user-1"): Promise<string> {
  const started = await requestConnection(server, { user_id: userId, provider_name: RIG_PROVIDER, return_url: `${RETURN_PREFIX}?x=1` });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const result = await driveConsent(started.body.authUrl, { stopAt: RETURN_PREFIX });
  assert.equal(new URL(result.url).searchParams.get("status"), "success", `consent ended at ${result.url} (${result.status})`);
  return started.body.connection_id;
}

/** The stored OAuth token set of a connection and its version (opened with the app's vault). */
export async function storedTokens(
  app: Pick<App, "store" | "vault">,
  connectionId: string,
): Promise<{ version: number; tokens: OAuthTokenSet }> {
  const record = await app.store.getCredential(connectionId);
  assert.ok(record, `connection ${connectionId} has a credential`);
  const secret = decodeStoredSecret(app.vault.open(record.secret, credentialAad(connectionId, record.version)));
  assert.equal(secret.kind, "oauth2");
  return { version: record.version, tokens: secret };
}

/** Waits until `seconds` (an access token's expires_at) is within the refresh skew of now. */
export async function untilExpiring(expiresAtSeconds: number, skewMs = 1000): Promise<void> {
  const waitMs = expiresAtSeconds * 1000 - skewMs - Date.now() + 50;
  if (waitMs > 0) await sleep(waitMs);
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** n, min, p50 and max of `samples` (ms), rounded. */
export function summarize(samples: number[]): { n: number; min: number; p50: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const p50 = sorted.length === 0 ? NaN : sorted[Math.floor((sorted.length - 1) / 2)]!;
  return { n: sorted.length, min: Math.round(sorted[0] ?? NaN), p50: Math.round(p50), max: Math.round(sorted.at(-1) ?? NaN) };
}

/** Prints a figure for the closing note, tagged with the backend: `figure[postgres] name: {…}`. */
export function reportFigure(t: TestContext, name: string, value: unknown): void {
  t.diagnostic(`figure[${TEST_STORE}] ${name}: ${JSON.stringify(value)}`);
}
