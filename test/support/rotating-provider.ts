/**
 * A small scripted OAuth token endpoint for crash tests: refresh tokens rotate on every use, a used
 * token is accepted again within a reuse window (Okta's grace period, Auth0's rotation overlap),
 * and a used token presented after the window revokes its whole grant (reuse detection). Answers
 * can be held after the grant was processed, so a client killed meanwhile loses the rotated token.
 * It can also fail (503) or hang (accept, read, never answer) to stage an outage.
 * Test support only; it checks no client authentication.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { App } from "../../server/app.ts";
import { credentialAad, encodeStoredSecret, type OAuthTokenSet } from "../../server/domain/stored-secret.ts";
import { createProviderDirectory } from "../../server/providers/provider-directory.ts";

/** Counts of what the endpoint did. */
export interface RotatingProviderStats {
  /** Refreshes answered with new tokens (a first use or a reuse in the window). */
  issued: number;
  /** Of those, the ones that presented an already used token inside the window. */
  reused: number;
  /** Refreshes refused with invalid_grant. */
  refused: number;
  /** Grants revoked because a used token came back after the window. */
  grantsRevoked: number;
  /** Answers processed and not yet sent (held by `holdMs`). */
  held: number;
  /** Requests left unanswered by `mode = "hang"` and still open. */
  hanging: number;
}

/** The running endpoint. */
export interface RotatingProvider {
  /** POST refresh_token grants here. */
  readonly tokenUrl: string;
  /** How long to hold each answer after the grant was processed (rotation already done), ms. */
  holdMs: number;
  /** normal; unavailable: every request gets 503; hang: requests are read and never answered. */
  mode: "normal" | "unavailable" | "hang";
  readonly stats: RotatingProviderStats;
  /** A refresh token of a new grant, for seeding a connection. */
  newGrant(): string;
  close(): Promise<void>;
}

/** Options of `startRotatingProvider`. */
export interface RotatingProviderOptions {
  /** How long a used refresh token is still accepted, ms (0: never). */
  reuseWindowMs: number;
  /** Lifetime of issued access tokens, seconds. */
  accessTtlSeconds: number;
}

interface Grant {
  isRevoked: boolean;
}

/** Starts the endpoint on a loopback port. */
export async function startRotatingProvider(options: RotatingProviderOptions): Promise<RotatingProvider> {
  const tokens = new Map<string, { grant: Grant; usedAtMs: number | null }>();
  const stats: RotatingProviderStats = { issued: 0, reused: 0, refused: 0, grantsRevoked: 0, held: 0, hanging: 0 };
  const mint = (grant: Grant) => {
    const token = `rt-${randomBytes(12).toString("hex")}`;
    tokens.set(token, { grant, usedAtMs: null });
    return token;
  };
  const provider = {
    tokenUrl: "",
    holdMs: 0,
    mode: "normal" as RotatingProvider["mode"],
    stats,
    newGrant: () => mint({ isRevoked: false }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  } satisfies RotatingProvider;

  const answer = (res: ServerResponse, status: number, body: Record<string, unknown>) => {
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" }).end(JSON.stringify(body));
  };
  const refuse = (res: ServerResponse) => {
    stats.refused += 1;
    answer(res, 400, { error: "invalid_grant" });
  };
  const handle = (req: IncomingMessage, res: ServerResponse, body: string) => {
    if (provider.mode === "unavailable") return answer(res, 503, { error: "temporarily_unavailable" });
    if (provider.mode === "hang") {
      stats.hanging += 1;
      res.once("close", () => (stats.hanging -= 1));
      return;
    }
    const params = new URLSearchParams(body);
    if (req.url !== "/token" || params.get("grant_type") !== "refresh_token") return answer(res, 400, { error: "unsupported_grant_type" });
    const record = tokens.get(params.get("refresh_token") ?? "");
    if (record === undefined || record.grant.isRevoked) return refuse(res);
    const nowMs = Date.now();
    if (record.usedAtMs !== null) {
      if (nowMs - record.usedAtMs > options.reuseWindowMs) {
        record.grant.isRevoked = true;
        stats.grantsRevoked += 1;
        return refuse(res);
      }
      stats.reused += 1;
    } else {
      record.usedAtMs = nowMs;
    }
    stats.issued += 1;
    const reply = {
      access_token: `at-${randomBytes(12).toString("hex")}`,
      token_type: "Bearer",
      expires_in: options.accessTtlSeconds,
      refresh_token: mint(record.grant),
    };
    if (provider.holdMs <= 0) return answer(res, 200, reply);
    stats.held += 1;
    setTimeout(() => {
      stats.held -= 1;
      // The client may be gone (killed): the rotation happened all the same.
      if (!res.destroyed) answer(res, 200, reply);
    }, provider.holdMs);
  };
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
    req.on("end", () => handle(req, res, body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  provider.tokenUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
  return provider;
}

/** Registers `provider` in `app` as OAuth provider `name` (reuse window recorded as profile data). */
export async function registerRotatingProvider(
  app: Pick<App, "store" | "vault">,
  name: string,
  provider: RotatingProvider,
  reuseWindowSeconds?: number,
): Promise<void> {
  const directory = createProviderDirectory({ store: app.store, vault: app.vault });
  await directory.create(
    {
      name,
      displayName: name,
      authType: "oauth2",
      oauth: {
        // Never visited: connections are seeded, not consented.
        authorizationEndpoint: "https://idp.example/authorize",
        tokenEndpoint: provider.tokenUrl,
        clientId: "nexus",
        clientAuthMethod: "client_secret_post",
        ...(reuseWindowSeconds === undefined ? {} : { refreshTokenReuseWindowSeconds: reuseWindowSeconds }),
      },
      strategy: { type: "oauth2" },
    },
    "client-secret",
  );
}

/** An active connection of `providerName` in tenant "default" holding `refreshToken` and an access token expiring in `expiresInSeconds`; returns its id. */
export async function seedRotatingConnection(
  app: Pick<App, "store" | "vault">,
  providerName: string,
  refreshToken: string,
  expiresInSeconds: number,
): Promise<string> {
  const created = await app.store.createConnection({
    tenantId: "default",
    userId: `user-${refreshToken.slice(-6)}`,
    providerName,
    status: "active",
    scopes: [],
  });
  const secret: OAuthTokenSet = {
    kind: "oauth2",
    accessToken: "at-seeded",
    tokenType: "Bearer",
    refreshToken,
    expiresAtSeconds: Math.floor(Date.now() / 1000) + expiresInSeconds,
  };
  await app.store.saveCredential(created.id, 0, {
    secret: app.vault.seal(encodeStoredSecret(secret), credentialAad(created.id, 1)),
    expiresAtSeconds: secret.expiresAtSeconds ?? null,
  });
  return created.id;
}
