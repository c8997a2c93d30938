/**
 * Bench data through the server's own modules: a tenant, an agent API key (ApiKeyManager), an OAuth
 * provider (ProviderDirectory, so the profile is validated) and active connections holding sealed
 * credentials, as a finished consent leaves them. Also rotates a credential the way a refresh does:
 * a compare-and-set save of the next version, which the publishing store announces to watchers.
 */
import type { ApiKeyManager } from "../server/auth/api-key-manager.ts";
import { credentialAad, encodeStoredSecret, type OAuthTokenSet } from "../server/domain/stored-secret.ts";
import { createProviderDirectory } from "../server/providers/provider-directory.ts";
import type { Store } from "../server/store/store.ts";
import type { Vault } from "../server/vault/vault.ts";

/** The tenant every bench connection and key belongs to. */
export const BENCH_TENANT = "bench";
/** The bench provider's name. */
export const BENCH_PROVIDER = "bench-idp";

/** What to seed. */
export interface SeedOptions {
  /** How many connections. */
  count: number;
  /** The provider's token endpoint (a loopback URL; only contacted when a refresh is due). */
  tokenEndpoint: string;
  /** Access-token lifetime from now, seconds; negative seeds an already expired token. */
  expiresInS: number;
  /** Whether the token set holds a refresh token (needed for a refresh to happen). */
  withRefreshToken: boolean;
  /** The provider's API base URL (the proxy's target); absent: not proxied. */
  apiBaseUrl?: string;
}

/** What was seeded. */
export interface Seeded {
  /** Secret of an agent key of BENCH_TENANT. */
  agentKey: string;
  connectionIds: string[];
}

/** Seeds the bench tenant, key, provider and connections. */
export async function seedConnections(
  deps: { store: Store; vault: Vault; apiKeys: Pick<ApiKeyManager, "create"> },
  options: SeedOptions,
): Promise<Seeded> {
  const { store, vault, apiKeys } = deps;
  const { secret: agentKey } = await apiKeys.create({ name: "bench agent", role: "agent", tenantId: BENCH_TENANT });
  await createProviderDirectory({ store, vault }).create({
    name: BENCH_PROVIDER,
    displayName: "Bench IdP",
    category: "bench",
    authType: "oauth2",
    strategy: { type: "oauth2" },
    urlParams: [],
    ...(options.apiBaseUrl === undefined ? {} : { apiBaseUrl: options.apiBaseUrl }),
    oauth: {
      authorizationEndpoint: "http://127.0.0.1:9/authorize",
      tokenEndpoint: options.tokenEndpoint,
      clientId: "bench-client",
      defaultScopes: [],
      authorizeParams: {},
      tokenParams: {},
      clientAuthMethod: "none",
      pkce: true,
      scopeSeparator: " ",
      omitScopeOnExchange: false,
    },
  });
  const expiresAtSeconds = Math.floor(Date.now() / 1000) + options.expiresInS;
  const connectionIds: string[] = [];
  for (let i = 0; i < options.count; i += 1) {
    const connection = await store.createConnection({
      tenantId: BENCH_TENANT,
      userId: `user-${i}`,
      providerName: BENCH_PROVIDER,
      status: "active",
    });
    const secret: OAuthTokenSet = {
      kind: "oauth2",
      // A realistic access-token size (provider JWTs are often ~1 KB; 64 characters keeps it plain).
      accessToken: `at-${i}-${"x".repeat(60)}`,
      tokenType: "Bearer",
      ...(options.withRefreshToken ? { refreshToken: `rt-${i}` } : {}),
      expiresAtSeconds,
    };
    await store.saveCredential(connection.id, 0, {
      secret: vault.seal(encodeStoredSecret(secret), credentialAad(connection.id, 1)),
      expiresAtSeconds,
    });
    connectionIds.push(connection.id);
  }
  return { agentKey, connectionIds };
}

/**
 * Saves the next credential version of a connection (a new access token valid for an hour), as a
 * refresh would; returns the saved version.
 */
export async function rotateCredential(deps: { store: Store; vault: Vault }, connectionId: string): Promise<number> {
  const { store, vault } = deps;
  // The tenant-scoped read a refresh makes (prepared), not the unscoped lookup (a query built per call).
  const connection = await store.getConnection(BENCH_TENANT, connectionId);
  const version = connection.credentialVersion + 1;
  const expiresAtSeconds = Math.floor(Date.now() / 1000) + 3600;
  const secret: OAuthTokenSet = { kind: "oauth2", accessToken: `at-v${version}-${"y".repeat(58)}`, tokenType: "Bearer", expiresAtSeconds };
  const saved = await store.saveCredential(connectionId, connection.credentialVersion, {
    secret: vault.seal(encodeStoredSecret(secret), credentialAad(connectionId, version)),
    expiresAtSeconds,
  });
  return saved.version;
}
