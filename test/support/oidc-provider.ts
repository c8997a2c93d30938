/**
 * A real OpenID Provider (panva/oidc-provider 9) for tests, in-process on 127.0.0.1 port 0 with its
 * built-in development login and consent pages (devInteractions: any login name works). One
 * confidential client is registered (client_secret_basic, PKCE required, refresh tokens). Its token
 * endpoint records every request and can be made slow or unavailable, and every grant revoked, so
 * refresh tests can count provider calls and stage outages across Nexus processes.
 */
import { randomBytes } from "node:crypto";
import http, { type IncomingMessage } from "node:http";
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
  /** Every request to the token endpoint so far, oldest first (a live array). */
  readonly tokenRequests: readonly TokenRequestRecord[];
  /** Knobs of the token endpoint; a test may change them at any time. */
  readonly tokenEndpoint: TokenEndpointControl;
  /** Revokes every grant (the user withdrew access at the provider): refresh tokens then get invalid_grant. */
  revokeAllGrants(): void;
  /** Stops the server. */
  close(): Promise<void>;
}

/** One request to the token endpoint, as the provider saw it. */
export interface TokenRequestRecord {
  /** The grant_type, once known ("" for a request the provider never parsed). */
  grantType: string;
  /**
   * pending: not answered yet; issued: tokens answered; error: an OAuth error (`error`);
   * unavailable: answered 503 because of `tokenEndpoint.unavailable`; dropped: the client went
   * away while the request was held back by `tokenEndpoint.delayMs` (it never reached the provider).
   */
  outcome: "pending" | "issued" | "error" | "unavailable" | "dropped";
  error?: string;
  /** Epoch milliseconds. */
  receivedAtMs: number;
  answeredAtMs?: number;
  /** The access token issued (tests match it to what Nexus hands out; never logged). */
  accessToken?: string;
  /** Whether the answer carried a refresh token (rotation). */
  hasRefreshToken?: boolean;
}

/** Token-endpoint behaviour a test turns while it runs. */
export interface TokenEndpointControl {
  /**
   * Hold each request this long before the provider sees it, like a slow proxy in front: a client
   * that disconnects meanwhile is dropped (the provider never processes it). Default 0.
   */
  delayMs: number;
  /** Answer 503 without reaching the provider (an outage). Default false. */
  unavailable: boolean;
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
  /**
   * Refresh-token rotation: true issues a new refresh token on every refresh (the used one is
   * consumed, and presenting it again revokes the grant); false never rotates. Default
   * oidc-provider's own rule (confidential clients rotate only after 70 % of the token's life).
   */
  rotateRefreshToken?: boolean;
  /**
   * Standard claims of each account besides `sub` (released for the email and profile scopes),
   * e.g. (id) => ({ email: `${id}@example.com`, name: id }). Default none.
   */
  accountClaims?: (accountId: string) => Record<string, unknown>;
  /**
   * Put the scope-released claims into the id_token too (oidc-provider's conformIdTokenClaims off).
   * Default false: with an access token they come only from userinfo (OIDC Core §5.4).
   */
  idTokenClaims?: boolean;
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
    findAccount: (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: () => ({ ...(options.accountClaims?.(id) ?? {}), sub: id }),
    }),
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name", "preferred_username"] },
    conformIdTokenClaims: !(options.idTokenClaims ?? false),
    features: {
      devInteractions: { enabled: true },
      revocation: { enabled: true },
      clientCredentials: { enabled: true },
    },
    pkce: { required: () => true },
    ...(options.rotateRefreshToken === undefined ? {} : { rotateRefreshToken: options.rotateRefreshToken }),
    scopes: ["openid", "offline_access", "api:read", "api:write", "email", "profile"],
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
  const tokenRequests: TokenRequestRecord[] = [];
  const tokenEndpoint: TokenEndpointControl = { delayMs: 0, unavailable: false };
  server.on("request", createTokenEndpointGate(provider, tokenRequests, tokenEndpoint));
  return {
    issuer,
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    clientId,
    clientSecret,
    tokenRequests,
    tokenEndpoint,
    revokeAllGrants() {
      for (const [key, entry] of storage) if (key.startsWith("Grant:") || entry.payload.grantId !== undefined) storage.delete(key);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/**
 * The provider's request handler with the token endpoint recorded and gated (delay, outage). The
 * provider's own grant events fill in each record: the request object links the two.
 */
function createTokenEndpointGate(provider: Provider, records: TokenRequestRecord[], control: TokenEndpointControl) {
  const callback = provider.callback();
  const byRequest = new WeakMap<IncomingMessage, TokenRequestRecord>();
  type GrantContext = { req: IncomingMessage; body?: Record<string, unknown>; oidc?: { params?: Record<string, unknown> } };
  const settle = (ctx: GrantContext, update: Partial<TokenRequestRecord>) => {
    const record = byRequest.get(ctx.req);
    if (record === undefined) return;
    Object.assign(record, { grantType: String(ctx.oidc?.params?.grant_type ?? ""), answeredAtMs: Date.now(), ...update });
  };
  provider.on("grant.success", (...args: unknown[]) => {
    const ctx = args[0] as GrantContext;
    const accessToken = ctx.body?.access_token;
    settle(ctx, {
      outcome: "issued",
      accessToken: typeof accessToken === "string" ? accessToken : undefined,
      hasRefreshToken: typeof ctx.body?.refresh_token === "string",
    });
  });
  provider.on("grant.error", (...args: unknown[]) => {
    settle(args[0] as GrantContext, { outcome: "error", error: String((args[1] as { error?: unknown } | undefined)?.error ?? "unknown") });
  });
  return (req: IncomingMessage, res: http.ServerResponse) => {
    if (req.method !== "POST" || new URL(req.url ?? "/", "http://x").pathname !== "/token") {
      callback(req, res);
      return;
    }
    const record: TokenRequestRecord = { grantType: "", outcome: "pending", receivedAtMs: Date.now() };
    records.push(record);
    byRequest.set(req, record);
    if (control.unavailable) {
      void readBody(req).then((body) => {
        Object.assign(record, {
          grantType: new URLSearchParams(body).get("grant_type") ?? "",
          outcome: "unavailable",
          answeredAtMs: Date.now(),
        });
        res.writeHead(503, { "content-type": "text/plain" }).end("temporarily unavailable");
      });
      return;
    }
    if (control.delayMs <= 0) {
      callback(req, res);
      return;
    }
    const timer = setTimeout(() => {
      res.off("close", drop);
      callback(req, res);
    }, control.delayMs);
    const drop = () => {
      clearTimeout(timer);
      Object.assign(record, { outcome: "dropped", answeredAtMs: Date.now() });
    };
    res.once("close", drop);
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString()));
    req.on("error", () => resolve(Buffer.concat(chunks).toString()));
  });
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
