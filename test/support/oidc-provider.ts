/**
 * A real OpenID Provider (panva/oidc-provider 9) for tests, in-process on 127.0.0.1 port 0 with its
 * built-in development login and consent pages (devInteractions: any login name works). One
 * confidential client is registered (client_secret_basic, PKCE required, refresh tokens).
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import { Provider } from "oidc-provider";

/** A running test OpenID Provider. */
export interface TestOidcProvider {
  /** e.g. "http://127.0.0.1:40123" (no trailing slash; oidc-provider keeps it as given). */
  readonly issuer: string;
  /** Where it listens: the issuer's origin, unless it claims another issuer. */
  readonly baseUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Stops the server. */
  close(): Promise<void>;
}

/** Storage shared by providers started with the same value (see `startOidcProvider` `storage`). */
export type OidcStorage = Map<string, { payload: Record<string, unknown>; expiresAtMs: number }>;

/** Options of `startOidcProvider`. */
export interface TestOidcProviderOptions {
  /** The client's registered redirect URIs (Nexus's `${publicUrl}/oauth/callback`). */
  redirectUris: string[];
  clientId?: string;
  clientSecret?: string;
  /**
   * How the client must authenticate at the token endpoint (default client_secret_basic). It is the
   * only method the provider accepts: oidc-provider otherwise treats basic and post alike.
   */
  tokenEndpointAuthMethod?: "client_secret_basic" | "client_secret_post";
  /** Token and code lifetimes in seconds, e.g. { AccessToken: 60 }. */
  ttl?: Partial<Record<"AccessToken" | "AuthorizationCode" | "RefreshToken" | "IdToken" | "ClientCredentials", number>>;
  /** Private signing JWK; pass the same key to two providers to make their tokens verify alike. */
  signingKey?: JWK;
  /**
   * Token/grant/session storage. Two providers given the same map redeem each other's codes, which
   * lets a test stage an OAuth "mix-up" (a token endpoint of another issuer answering the code).
   */
  storage?: OidcStorage;
  /**
   * Issuer identifier to claim instead of this server's own URL: an impostor that mints tokens in
   * another provider's name (with its own key), for signature-check tests.
   */
  claimIssuer?: string;
}

/** Generates an RS256 private signing JWK for `startOidcProvider`. */
export async function generateSigningKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: randomBytes(8).toString("hex"), alg: "RS256", use: "sig" };
}

/** Starts an OpenID Provider on 127.0.0.1, port 0. */
export async function startOidcProvider(options: TestOidcProviderOptions): Promise<TestOidcProvider> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = options.claimIssuer ?? `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = options.clientId ?? "nexus-test-client";
  const clientSecret = options.clientSecret ?? randomBytes(24).toString("base64url");
  const storage: OidcStorage = options.storage ?? new Map();

  const provider = new Provider(issuer, {
    adapter: (model: string) => createMapAdapter(storage, model),
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: options.redirectUris,
        grant_types: ["authorization_code", "refresh_token", "client_credentials"],
        response_types: ["code"],
        token_endpoint_auth_method: options.tokenEndpointAuthMethod ?? "client_secret_basic",
      },
    ],
    clientAuthMethods: [options.tokenEndpointAuthMethod ?? "client_secret_basic"],
    jwks: { keys: [options.signingKey ?? (await generateSigningKey())] },
    cookies: { keys: [randomBytes(32).toString("hex")] },
    findAccount: (_ctx: unknown, id: string) => ({ accountId: id, claims: () => ({ sub: id }) }),
    features: {
      devInteractions: { enabled: true },
      revocation: { enabled: true },
      clientCredentials: { enabled: true },
    },
    pkce: { required: () => true },
    scopes: ["openid", "offline_access", "api:read", "api:write"],
    ttl: {
      AccessToken: options.ttl?.AccessToken ?? 3600,
      AuthorizationCode: options.ttl?.AuthorizationCode ?? 60,
      RefreshToken: options.ttl?.RefreshToken ?? 86400,
      IdToken: options.ttl?.IdToken ?? 3600,
      ClientCredentials: options.ttl?.ClientCredentials ?? 600,
      Interaction: 600,
      Session: 3600,
      Grant: 86400,
    },
  });
  server.on("request", provider.callback());
  return {
    issuer,
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    clientId,
    clientSecret,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/** oidc-provider's adapter contract over a Map (its own memory adapter is a private module). */
function createMapAdapter(storage: OidcStorage, model: string) {
  const key = (id: string) => `${model}:${id}`;
  const get = (k: string) => {
    const entry = storage.get(k);
    if (entry === undefined || entry.expiresAtMs <= Date.now()) return undefined;
    return entry.payload;
  };
  const set = (k: string, payload: Record<string, unknown>, expiresInSeconds?: number) =>
    storage.set(k, { payload, expiresAtMs: expiresInSeconds ? Date.now() + expiresInSeconds * 1000 : Infinity });
  return {
    async upsert(id: string, payload: Record<string, unknown>, expiresIn?: number) {
      set(key(id), payload, expiresIn);
      if (model === "Session") set(`sessionUid:${String(payload.uid)}`, { id }, expiresIn);
    },
    async find(id: string) {
      return get(key(id));
    },
    async findByUid(uid: string) {
      const ref = get(`sessionUid:${uid}`);
      return ref ? get(key(String(ref.id))) : undefined;
    },
    async findByUserCode() {
      return undefined;
    },
    async consume(id: string) {
      const payload = get(key(id));
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    },
    async destroy(id: string) {
      storage.delete(key(id));
    },
    async revokeByGrantId(grantId: string) {
      for (const [k, entry] of storage) if (entry.payload.grantId === grantId) storage.delete(k);
    },
  };
}
