/**
 * Assembles access control for the app in one call: API keys (bootstrap, verification,
 * administration), tenant scoping, the audit writer and its retention timer, per-key limits, client
 * addresses behind trusted proxies, CORS, and the liveness of keys behind open streams. Part of the
 * composition root (server/app/): app.ts places the pieces, and interceptor-order.ts alone decides
 * where each interceptor sits; this module decides nothing about routes or HTTP servers.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { ApiKeyService } from "../../gen/nexus/v1/api_keys_pb.ts";
import type { AuditService } from "../../gen/nexus/v1/audit_pb.ts";
import { startAuditRetention } from "../audit/audit-retention.ts";
import { type AuditWriter, createAuditWriter } from "../audit/audit-writer.ts";
import { type ApiKeyLiveness, createApiKeyLiveness } from "../auth/api-key-liveness.ts";
import { type ApiKeyManager, createApiKeyManager } from "../auth/api-key-manager.ts";
import { type ApiKeyVerifier, createApiKeyVerifier } from "../auth/api-key-verifier.ts";
import { ensureBootstrapAdminKey } from "../auth/bootstrap-admin-key.ts";
import type { MethodAccess } from "../auth/permissions.ts";
import { createTenantScope, type TenantScope } from "../auth/tenant-scope.ts";
import type { Config } from "../config/config.ts";
import { ConflictError, FailedPreconditionError, InvalidArgumentError, NotFoundError } from "../domain/errors.ts";
import { createClientAddressResolver, createTrustedProxyCheck } from "../http/client-address.ts";
import { type CorsHandler, createCors } from "../http/cors.ts";
import type { NodeRequest } from "../http/endpoints.ts";
import { createTokenBuckets } from "../limits/token-buckets.ts";
import type { Logger } from "../logging/logger.ts";
import type { Principal } from "../request/principal.ts";
import { createAuditInterceptor } from "../rpc/interceptors/audit-interceptor.ts";
import { authenticate, createAuthInterceptor } from "../rpc/interceptors/auth-interceptor.ts";
import { createInProcessAddressInterceptor } from "../rpc/interceptors/in-process-address-interceptor.ts";
import { createKeyValidityInterceptor } from "../rpc/interceptors/key-validity-interceptor.ts";
import { createRateLimitInterceptor, rateLimitedError } from "../rpc/interceptors/rate-limit-interceptor.ts";
import { createStreamLimitInterceptor } from "../rpc/interceptors/stream-limit-interceptor.ts";
import { createApiKeyService, createAuditService } from "../services/admin-services.ts";
import type { Store } from "../store/store.ts";
import type { InterceptorsByRole } from "./interceptor-order.ts";

/** The interceptors access control builds. */
export type AccessInterceptors = Pick<
  InterceptorsByRole,
  "auth" | "rateLimit" | "streamLimit" | "audit" | "keyValidity" | "inProcessAddress"
>;

/** Access control, assembled. */
export interface AccessControl {
  readonly keys: ApiKeyManager;
  readonly verifier: ApiKeyVerifier;
  /** Revocations heard of and the keys behind open streams. */
  readonly liveness: ApiKeyLiveness;
  /**
   * Applies a revocation announced by another replica (or re-applies one): the verifier forgets the
   * key and its streams here end with Unauthenticated.
   */
  keyRevoked(keyId: string): void;
  readonly scope: TenantScope;
  readonly audit: AuditWriter;
  /** The access-control interceptors by role; interceptor-order.ts places them. */
  readonly interceptors: AccessInterceptors;
  /**
   * Authenticates a plain-HTTP request (the proxy route) exactly as the auth interceptor does an RPC
   * of `access`, then draws from the key's rate-limit bucket (the one RPCs draw from): the
   * principal, or a ConnectError (refusals of the key are audited).
   */
  authenticate(
    req: NodeRequest,
    input: { access: MethodAccess | undefined; what: string; requestId: string; clientAddress: string },
  ): Promise<Principal>;
  /** The client address of a Node request (trusted-proxy aware). */
  clientAddress(req: NodeRequest): string;
  /** Whether a socket peer is a trusted proxy (the listener spares those its per-address cap). */
  isTrustedProxy(address: string): boolean;
  readonly cors: CorsHandler;
  readonly apiKeyService: ServiceImpl<typeof ApiKeyService>;
  readonly auditService: ServiceImpl<typeof AuditService>;
  /** Stops the retention timer and flushes the audit log; call before closing the store. */
  close(): Promise<void>;
}

/** What `createAccessControl` needs. */
export interface AccessControlDeps {
  config: Config;
  store: Store;
  logger: Logger;
  /** Epoch milliseconds (key expiry, audit times). */
  now: () => number;
  /** Where the development bootstrap key is printed once (default: stdout); never the logger. */
  announce?: (text: string) => void;
  /**
   * Tells the other replicas that a key was revoked (PostgreSQL NOTIFY); awaited before
   * RevokeApiKey answers. Absent with one process (SQLite).
   */
  announceRevocation?: (keyId: string) => Promise<void>;
}

/** Creates access control; ensures the bootstrap admin key before resolving. */
export async function createAccessControl(deps: AccessControlDeps): Promise<AccessControl> {
  const { config, store, logger, now } = deps;
  const keys = createApiKeyManager({ store, now });
  await ensureBootstrapAdminKey({
    keys,
    mode: config.mode,
    configuredSecret: config.adminApiKey,
    announce: deps.announce ?? ((text) => void process.stdout.write(text)),
    logger,
  });
  const keyLiveness = createApiKeyLiveness({
    store,
    now,
    logger,
    // Open streams re-read their keys as often as the verifier re-reads a cached one (at least 1 s).
    recheckMs: Math.max(1_000, config.apiKeyCacheMs),
    // Called only after start-up, once `verifier` exists.
    onRevoked: (keyId) => verifier.forget(keyId),
  });
  const verifier = createApiKeyVerifier({
    store,
    now,
    cacheMs: config.apiKeyCacheMs,
    isRevoked: (keyId) => keyLiveness.isRevoked(keyId),
    onTouchError: (err) => logger.warn({ err }, "could not record an API key's last use"),
  });
  const audit = createAuditWriter({ store, logger, now });
  const retention = startAuditRetention({ store, logger, now, retentionDays: config.auditRetentionDays });
  const limits = { ratePerSecond: config.rateLimitPerSecond, burst: config.rateLimitBurst };
  const resolveAddress = createClientAddressResolver(config.trustedProxies);
  const authDeps = { verifier, audit, failedAuthBuckets: createTokenBuckets(limits) };
  // One bucket per key, shared by RPCs and proxied calls: the proxy is no way around the limit.
  const keyBuckets = createTokenBuckets(limits);

  return {
    keys,
    verifier,
    liveness: keyLiveness,
    keyRevoked: (keyId) => keyLiveness.revoked(keyId),
    scope: createTenantScope({ store }),
    audit,
    interceptors: {
      auth: createAuthInterceptor(authDeps),
      rateLimit: createRateLimitInterceptor({ buckets: keyBuckets }),
      streamLimit: createStreamLimitInterceptor({
        maxPerKey: config.maxStreamsPerKey,
        maxAnonymousPerAddress: config.maxAnonymousStreamsPerAddress,
      }),
      audit: createAuditInterceptor({ audit }),
      keyValidity: createKeyValidityInterceptor({ liveness: keyLiveness }),
      inProcessAddress: createInProcessAddressInterceptor(),
    },
    async authenticate(req, input) {
      const principal = await authenticate(authDeps, {
        header: nodeHeaders(req),
        access: input.access === "public" ? undefined : input.access,
        what: input.what,
        requestId: input.requestId,
        clientAddress: input.clientAddress,
      });
      const waitMs = keyBuckets.take(principal.keyId);
      if (waitMs > 0) throw rateLimitedError(waitMs);
      return principal;
    },
    clientAddress: (req) => resolveAddress(req.socket?.remoteAddress, req.headers["x-forwarded-for"]),
    isTrustedProxy: createTrustedProxyCheck(config.trustedProxies),
    cors: createCors(config.corsOrigins),
    apiKeyService: createApiKeyService({
      keys,
      willRevoke: (keyId) => keyLiveness.revoked(keyId),
      revokeFailed: (keyId, err) => {
        if (isRevocationCertainlyNotStored(err)) keyLiveness.unrevoked(keyId);
        // Fail closed: the write may have landed (e.g. the connection dropped on commit).
        else logger.warn({ err, keyId }, "RevokeApiKey failed with an unknown outcome: this process keeps refusing the key");
      },
      onRevoked: async (keyId) => {
        // Again after the commit: drops a record the verifier may have cached meanwhile.
        keyLiveness.revoked(keyId);
        await deps.announceRevocation?.(keyId);
      },
    }),
    auditService: createAuditService({ store }),
    async close() {
      keyLiveness.close();
      await retention.stop();
      await audit.close();
    },
  };
}

/** Whether a failed revocation write certainly left the key as it was (a refusal, not an outage). */
function isRevocationCertainlyNotStored(err: unknown): boolean {
  return (
    err instanceof NotFoundError ||
    err instanceof InvalidArgumentError ||
    err instanceof ConflictError ||
    err instanceof FailedPreconditionError
  );
}

/** A Node request's headers as a fetch Headers (HTTP/2 pseudo-headers left out). */
function nodeHeaders(req: NodeRequest): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name.startsWith(":")) continue;
    try {
      for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
    } catch {
      // A value fetch Headers refuses is no key anyway.
    }
  }
  return headers;
}
