/**
 * Test support for the refresh engine and scheduler: a fake token endpoint behind an injected
 * `fetch` (so the real OAuth client, client authentication and failure classifier run), a
 * controllable clock, and a store seeded with a provider, a tenant and active connections.
 * Test support only; never imported by server code.
 */
import { Registry } from "prom-client";
import { DEFAULT_REFRESH_LEASE_MS, DEFAULT_REFRESH_READ_WAIT_MS, DEFAULT_REFRESH_SKEW_MS } from "../../server/config/defaults.ts";
import { credentialAad, encodeStoredSecret, type OAuthTokenSet } from "../../server/domain/stored-secret.ts";
import { createLogger, type Logger } from "../../server/logging/logger.ts";
import { createOAuthClient } from "../../server/oauth/oauth-client.ts";
import { createProviderDirectory, type ProviderDirectory } from "../../server/providers/provider-directory.ts";
import { createProviderGrant, type ProviderGrant } from "../../server/refresh/provider-grant.ts";
import { createRefreshEngine, type RefreshEngine, type RefreshEngineOptions } from "../../server/refresh/refresh-engine.ts";
import { createRefreshMetrics, type RefreshMetrics } from "../../server/refresh/refresh-metrics.ts";
import type { ConnectionRecord, Store } from "../../server/store/store.ts";
import { generateKeyringText, parseKeyring } from "../../server/vault/keyring.ts";
import { createVault, type Vault } from "../../server/vault/vault.ts";

/** Epoch ms at which test clocks start. */
export const T0_MS = 1_750_000_000_000;
export const TENANT = "tenant-a";
export const CLIENT_SECRET = "client-secret-value";

/** A clock tests move by hand; `sleep` advances it instead of waiting (then yields a macrotask). */
export interface TestClock {
  ms: number;
  now(): number;
  advance(ms: number): void;
  sleep(ms: number): Promise<void>;
}

/** Creates a clock at T0_MS. */
export function createTestClock(startMs = T0_MS): TestClock {
  const clock: TestClock = {
    ms: startMs,
    now: () => clock.ms,
    advance(ms) {
      clock.ms += ms;
    },
    async sleep(ms) {
      clock.ms += ms;
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
  return clock;
}

/** One request the fake token endpoint received. */
export interface TokenRequest {
  params: URLSearchParams;
  authorization: string | null;
}

/** What the fake endpoint answers: a JSON body and status (default 200), or a thrown network error. */
export type TokenReply = { status?: number; body: Record<string, unknown> } | { networkError: true };

/** A token endpoint answering through an injected fetch. */
export interface FakeTokenEndpoint {
  readonly url: string;
  readonly requests: TokenRequest[];
  /** How the next requests are answered; may wait (to hold a refresh in flight). */
  reply: (request: TokenRequest) => TokenReply | Promise<TokenReply>;
  fetch(url: string, init: RequestInit): Promise<Response>;
}

/** Creates the endpoint; by default it issues `at-<n>` access tokens valid for an hour, no refresh token. */
export function createFakeTokenEndpoint(): FakeTokenEndpoint {
  const endpoint: FakeTokenEndpoint = {
    url: "http://127.0.0.1:9/token",
    requests: [],
    reply: () => ({ body: { access_token: `at-${endpoint.requests.length}`, token_type: "Bearer", expires_in: 3600 } }),
    async fetch(_url, init) {
      const params = new URLSearchParams(init.body as string | URLSearchParams);
      const request = { params, authorization: new Headers(init.headers).get("authorization") };
      endpoint.requests.push(request);
      const reply = await endpoint.reply(request);
      if ("networkError" in reply) throw new TypeError("fetch failed", { cause: new Error("ECONNREFUSED") });
      return new Response(JSON.stringify(reply.body), {
        status: reply.status ?? 200,
        headers: { "content-type": "application/json", "cache-control": "no-store" },
      });
    },
  };
  return endpoint;
}

/** A store seeded for refresh tests, with what engines need. */
export interface RefreshWorld {
  store: Store;
  vault: Vault;
  providers: ProviderDirectory;
  endpoint: FakeTokenEndpoint;
  grant: ProviderGrant;
  clock: TestClock;
  logger: Logger;
  /** Creates an active connection of `provider` holding `tokens` (saved now, version 1). */
  connect(tokens: Partial<OAuthTokenSet>, provider?: string): Promise<ConnectionRecord>;
  /** The connection as stored now. */
  reload(connection: ConnectionRecord): Promise<ConnectionRecord>;
  /** An engine on this world; options override the defaults. */
  engine(overrides?: Partial<RefreshEngineOptions>): RefreshEngine;
  /** Fresh metrics on their own registry, with a reader of `nexus_refresh_total` by outcome. */
  metrics(): { metrics: RefreshMetrics; total(outcome: string): Promise<number> };
}

/** Seeds `store` with tenant TENANT, an oauth2 provider "acme" and a client-credentials provider "acme-cc". */
export async function createRefreshWorld(store: Store, clock: TestClock, endpoint = createFakeTokenEndpoint()): Promise<RefreshWorld> {
  const vault = createVault(parseKeyring(generateKeyringText("k1")));
  const providers = createProviderDirectory({ store, vault });
  const logger = createLogger({ level: "silent" });
  await store.ensureTenant({ id: TENANT });
  for (const [name, authType] of [
    ["acme", "oauth2"],
    ["acme-cc", "oauth2_client_credentials"],
  ] as const) {
    try {
      await providers.create(
        {
          name,
          displayName: name,
          authType,
          oauth: {
            authorizationEndpoint: "https://acme.example/authorize",
            tokenEndpoint: endpoint.url,
            clientId: "cid",
            clientAuthMethod: "client_secret_post",
          },
          strategy: { type: "oauth2" },
        },
        CLIENT_SECRET,
      );
    } catch (error) {
      // A second world on the same database finds the providers already there.
      if (!(error instanceof Error && error.name === "AlreadyExistsError")) throw error;
    }
  }
  const grant = createProviderGrant(createOAuthClient({ now: clock.now, fetch: (url, init) => endpoint.fetch(url, init) }));
  const world: RefreshWorld = {
    store,
    vault,
    providers,
    endpoint,
    grant,
    clock,
    logger,
    async connect(tokens, provider = "acme") {
      const created = await store.createConnection({
        tenantId: TENANT,
        userId: "u1",
        providerName: provider,
        status: "active",
        scopes: ["read"],
      });
      const secret: OAuthTokenSet = { kind: "oauth2", accessToken: "at-initial", tokenType: "Bearer", ...tokens };
      await store.saveCredential(created.id, 0, {
        secret: vault.seal(encodeStoredSecret(secret), credentialAad(created.id, 1)),
        expiresAtSeconds: secret.expiresAtSeconds ?? null,
      });
      return store.getConnection(TENANT, created.id);
    },
    reload: (connection) => store.getConnection(connection.tenantId, connection.id),
    engine: (overrides = {}) =>
      createRefreshEngine({
        store,
        vault,
        providers,
        refreshGrant: grant,
        now: clock.now,
        random: () => 0.5,
        owner: "replica-a",
        sleep: (ms) => clock.sleep(ms),
        logger,
        skewMs: DEFAULT_REFRESH_SKEW_MS,
        leaseMs: DEFAULT_REFRESH_LEASE_MS,
        readWaitMs: DEFAULT_REFRESH_READ_WAIT_MS,
        ...overrides,
      }),
    metrics() {
      const registry = new Registry();
      const metrics = createRefreshMetrics(registry);
      return {
        metrics,
        async total(outcome) {
          const values = (await metrics.refreshes.get()).values;
          return values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
        },
      };
    },
  };
  return world;
}

/** Unix seconds `seconds` from the clock's now. */
export function inSeconds(clock: TestClock, seconds: number): number {
  return Math.floor(clock.now() / 1000) + seconds;
}
