/**
 * Composition root: builds every dependency once, in data-flow order (store and vault → services →
 * interceptors → router → HTTP), and returns the assembled app. It never listens by itself, so tests
 * use exactly what `main.ts` runs. Nothing here reads process.env.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { Code, ConnectError, createContextValues, type HandlerContext } from "@connectrpc/connect";
import type { DestinationStream } from "pino";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";
import { createAccessControl } from "./app/access-control.ts";
import { type InterceptorsByRole, orderInterceptors } from "./app/interceptor-order.ts";
import { lazyPart } from "./app/lazy-part.ts";
import { auditCredentialDelivered, auditRefreshOutcome, credentialDeliveryGroup } from "./audit/audit-actions.ts";
import type { AuditWriter } from "./audit/audit-writer.ts";
import type { ApiKeyManager } from "./auth/api-key-manager.ts";
import { accessOf } from "./auth/permissions.ts";
import { createProxyAccess, type ProxyAccess } from "./auth/proxy-access.ts";
import { isCapturePath } from "./capture/capture-path.ts";
import type { KeyCapture } from "./capture/key-capture.ts";
import { type Config, checkServerConfig } from "./config/config.ts";
import { DEFAULT_PROCESS_METRICS_DELAY_MS, DEFAULT_WEBHOOK_MAX_RESPONSE_BYTES, systemNow } from "./config/defaults.ts";
import { createReturnUrlPolicy } from "./config/return-url-policy.ts";
import type { ConsentFlow } from "./consent/consent-flow.ts";
import { createConsentStates } from "./consent/consent-states.ts";
import { createOAuthCallbackRoute } from "./consent/oauth-callback-route.ts";
import { createEndpoints, sendNotFound } from "./http/endpoints.ts";
import { createListener, type ListenerAddress, type ListenerRequestHandler } from "./http/listener.ts";
import { createLogger, type Logger } from "./logging/logger.ts";
import { createStaleConsentSweeper } from "./maintenance/expire-stale-consents.ts";
import { createConnectionEventPruner } from "./maintenance/prune-connection-events.ts";
import { collectProcessMetrics, Registry } from "./metrics/prom-client-parts.ts";
import {
  createProxyMetrics,
  createServerMetrics,
  registerAccountLookupMetrics,
  registerAuditMetrics,
  registerConnectionMetrics,
  registerWatcherGauge,
} from "./metrics/server-metrics.ts";
import { createWebhookMetrics } from "./metrics/webhook-metrics.ts";
import { createOAuthClient } from "./oauth/oauth-client.ts";
import type { FetchFn } from "./oauth/request-options.ts";
import { createLazyProviderCatalog, loadProviderCatalog, loadProviderCatalogGradually } from "./providers/catalog.ts";
import { createProviderDirectory } from "./providers/provider-directory.ts";
import { isProxyTarget } from "./proxy/proxy-target.ts";
import { createHealthService } from "./reflection/health-service.ts";
import { createReflectionService } from "./reflection/reflection-service.ts";
import { createProviderGrant } from "./refresh/provider-grant.ts";
import { createRefreshEngine, refreshDrainBudgetMs } from "./refresh/refresh-engine.ts";
import { createRefreshMetrics } from "./refresh/refresh-metrics.ts";
import { createRefreshScheduler } from "./refresh/refresh-scheduler.ts";
import { kAdmitOnSend, kAssertKeyValid, kClientAddress, kPrincipal, kRawStream } from "./request/context.ts";
import { createRestHandler } from "./rest/rest-handler.ts";
import { createConnectionRevoker } from "./revocation/connection-revoker.ts";
import { toConnectError } from "./rpc/errors.ts";
import { createInProcessTransport } from "./rpc/in-process-transport.ts";
import { createErrorInterceptor } from "./rpc/interceptors/error-interceptor.ts";
import { createInputInterceptor } from "./rpc/interceptors/input-interceptor.ts";
import { createLoggingInterceptor } from "./rpc/interceptors/logging-interceptor.ts";
import { createMetricsInterceptor } from "./rpc/interceptors/metrics-interceptor.ts";
import { createNodeAdapter } from "./rpc/node-adapter.ts";
import { rawStreamOf } from "./rpc/raw-stream.ts";
import { createRoutes, ERROR_DETAIL_FILES, NEXUS_SERVICES } from "./rpc/routes.ts";
import { createUnaryH2, type UnaryH2 } from "./rpc/unary-h2.ts";
import { createWatchH2, type WatchH2 } from "./rpc/watch-h2.ts";
import { createConnectionEventService } from "./services/connection-event-service.ts";
import { createConnectionService } from "./services/connection-service.ts";
import { createProviderService } from "./services/provider-service.ts";
import { createTokenService } from "./services/token-service.ts";
import { createWatchFanout, type WatchFanout } from "./services/watch-fanout.ts";
import { createWebhookService } from "./services/webhook-service.ts";
import { openStore } from "./store/open-store.ts";
import { lockDataDir } from "./store/sqlite/data-dir-lock.ts";
import type { Store } from "./store/store.ts";
import { createTokenReader } from "./tokens/token-reader.ts";
import { loadOrCreateDevKeyring, parseKeyring } from "./vault/keyring.ts";
import { createVault, type Vault } from "./vault/vault.ts";
import { createConnectionEventWatch } from "./watch/connection-event-watch.ts";
import { createCredentialWatch } from "./watch/credential-watch.ts";
import { createEventFeed } from "./watch/event-feed.ts";
import { createPublishingStore } from "./watch/publishing-store.ts";
import { createWatchHub } from "./watch/watch-hub.ts";
import { createDeliveryWorker, type DeliveryWorker } from "./webhooks/delivery-worker.ts";
import { createStoreOutbox } from "./webhooks/store-outbox.ts";
import { createTargetRules } from "./webhooks/target-policy.ts";
import { createWebhookSender } from "./webhooks/webhook-sender.ts";

/** An assembled Nexus server. */
export interface App {
  /** The Node request handler serving every protocol, REST and the plain endpoints. */
  readonly handler: ListenerRequestHandler;
  /** Starts listening on the configured host and port (port 0 picks a free one). */
  listen(): Promise<ListenerAddress>;
  /**
   * Graceful shutdown: readiness off, scheduler stopped, streams ended, in-flight requests drained,
   * refreshes drained, store closed. `isUrgent` (also on a call made while closing) cuts the
   * requests' grace period short; running refreshes are still waited for.
   */
  close(options?: { isUrgent?: boolean }): Promise<void>;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly store: Store;
  readonly vault: Vault;
  /** The audit log writer (e.g. for credentials delivered on watch streams, background refreshes). */
  readonly audit: AuditWriter;
  /** API key administration (the CLI and tests create keys through it). */
  readonly apiKeys: ApiKeyManager;
  /** Watch streams served by the encode-once fan-out (services/watch-fanout.ts), for tests and gauges. */
  readonly watchFanout: Pick<WatchFanout, "watcherCount" | "groupCount">;
  /** WatchCredentials streams served on the dedicated HTTP/2 path (rpc/watch-h2.ts), and the ones it handed back. */
  readonly watchH2: Pick<WatchH2, "counts">;
  /** GetToken calls served on the dedicated HTTP/2 path (rpc/unary-h2.ts), and the ones it handed back. */
  readonly unaryH2: Pick<UnaryH2, "counts">;
}

/** Things tests (and embedders) may supply instead of the defaults. */
export interface AppOverrides {
  /** Where logs go (default stdout); tests pass a stream they can scan for secrets. */
  logDestination?: DestinationStream;
  /** The app's one clock, epoch ms (default the system clock): store times, refresh, consent, keys, watch. */
  now?: () => number;
  /** Outbound fetch for provider requests (default the global fetch); tests observe provider calls. */
  fetch?: FetchFn;
  /** Where the development bootstrap admin key is printed once (default stdout; never the logger). */
  announce?: (text: string) => void;
  /** Who may use the proxy (default: server/auth/proxy-access.ts over the keys' rules and NEXUS_PROXY_OPEN_TENANTS). */
  proxyAccess?: ProxyAccess;
  /** Asked per HTTP/2 stream; false: WatchCredentials goes through connect-node (differential tests). Default always true. */
  isWatchH2Enabled?: () => boolean;
  /** Asked per HTTP/2 stream; false: GetToken goes through connect-node (differential tests). Default always true. */
  isUnaryH2Enabled?: () => boolean;
}

/**
 * Builds the app from a validated configuration. On SQLite it first takes the data directory's lock
 * (server/store/sqlite/data-dir-lock.ts): a second server on the same directory is refused.
 */
export async function createApp(config: Config, overrides: AppOverrides = {}): Promise<App> {
  checkServerConfig(config);
  const dataDirLock = config.databaseUrl === undefined ? lockDataDir(config.dataDir) : undefined;
  try {
    return await assembleApp(config, overrides, () => dataDirLock?.release());
  } catch (error) {
    dataDirLock?.release();
    throw error;
  }
}

async function assembleApp(config: Config, overrides: AppOverrides, releaseDataDir: () => void): Promise<App> {
  const logger = createLogger({ level: config.logLevel, destination: overrides.logDestination });

  const keyring = config.encryptionKeys !== undefined ? parseKeyring(config.encryptionKeys) : devKeyring(config, logger);
  const vault = createVault(keyring);
  const now = overrides.now ?? systemNow;
  const baseStore = await openStore({
    now,
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    queryTimeoutMs: config.databaseQueryTimeoutMs,
    onPoolError: (err) => logger.warn({ err: { name: err.name, code: (err as { code?: string }).code } }, "database connection failed"),
  });

  const registry = new Registry();
  const metrics = createServerMetrics(registry);
  // Node's default process metrics load prom-client's index and the OpenTelemetry API: registered
  // a moment after listen (or by the first /metrics, which waits for them), not before (cold start).
  const processMetrics = lazyPart(() => collectProcessMetrics(registry));
  // One id per process: the refresh-lease owner and the origin of this replica's notifications.
  const replicaId = `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
  // Set once the webhook worker exists: a committed connection change wakes it (the poll is the backstop).
  let wakeWebhooks: () => void = () => {};
  const hub = createWatchHub({ heartbeatMs: config.watchHeartbeatMs, now });
  // The fan-out's streams of one connection share one hub subscription (created below).
  registerWatcherGauge(registry, () => hub.watcherCount() - fanout.groupCount() + fanout.watcherCount());
  // WatchConnections streams: woken per tenant when its event log grows (here or on another replica).
  const feed = createEventFeed({ heartbeatMs: config.watchHeartbeatMs, now });
  // Replicas share PostgreSQL, so their watchers learn of each other's writes by LISTEN/NOTIFY;
  // one SQLite process needs only its own hub. Key revocations ride the same channel; after a lost
  // LISTEN connection, open streams re-check their keys as watchers resync (`access` exists by the
  // time listen() starts the bridge).
  // Imported only with PostgreSQL: pg is no start-up cost of a SQLite server.
  const bridge =
    config.databaseUrl === undefined
      ? undefined
      : (await import("./watch/pg-notify-bridge.ts")).createPgNotifyBridge({
          connectionString: config.databaseUrl,
          hub: {
            publish: (event) => hub.publish(event),
            resync: () => {
              hub.resync();
              feed.resync();
              void access.liveness.recheck();
            },
          },
          onKeyRevoked: (keyId) => access.keyRevoked(keyId),
          onConnectionEvents: (tenantId) => {
            feed.notify(tenantId);
            // Another replica's change is in the log: the webhooks deliver it too.
            wakeWebhooks();
          },
          originId: replicaId,
          queryTimeoutMs: config.databaseQueryTimeoutMs,
          logger,
          random: Math.random,
        });
  const store = createPublishingStore(
    baseStore,
    (event) => (bridge ? bridge.publish(event) : hub.publish(event)),
    (tenantId) => {
      feed.notify(tenantId);
      void bridge?.announceConnectionEvents(tenantId);
      wakeWebhooks();
    },
  );
  const access = await createAccessControl({
    config,
    store,
    logger,
    now,
    announce: overrides.announce,
    announceRevocation: bridge ? (keyId) => bridge.announceKeyRevoked(keyId) : undefined,
  });
  registerAuditMetrics(registry, () => access.audit.stats());
  const directory = createProviderDirectory({ store, vault });
  const catalog = createLazyProviderCatalog(() => loadProviderCatalog());
  const states = createConsentStates({ store, vault, now });
  // Without NEXUS_PUBLIC_URL, browsers are assumed to reach this machine's loopback on the port
  // actually bound (known only after listen, hence a function).
  const publicUrl = () => config.publicUrl ?? `http://127.0.0.1:${listener.address()?.port ?? config.port}`;
  const oauth = createOAuthClient({ now, fetch: overrides.fetch });
  const accountMetrics = registerAccountLookupMetrics(registry);
  const returnUrls = createReturnUrlPolicy(config.returnUrlOrigins);
  // The consent flow and the hosted credential form: imported and built on first use (cold start).
  const consentParts = lazyPart(async () => {
    const [{ createKeyCapture }, { createConsentFlow }] = await Promise.all([
      import("./capture/key-capture.ts"),
      import("./consent/consent-flow.ts"),
    ]);
    const keyCapture = createKeyCapture({
      store,
      vault,
      states,
      publicUrl,
      now,
      logger,
      fetch: overrides.fetch,
      loadProvider: (name) => directory.get(name),
      audit: access.audit,
      accountMetrics,
    });
    const flow = createConsentFlow({
      store,
      vault,
      providers: directory,
      states,
      returnUrls,
      oauth,
      keyCapture,
      publicUrl,
      logger,
      audit: access.audit,
      accountMetrics,
    });
    return { keyCapture, flow };
  });
  const consent: ConsentFlow = {
    start: async (tenantId, input) => (await consentParts.get()).flow.start(tenantId, input),
    reconnect: async (tenantId, connectionId, input) => (await consentParts.get()).flow.reconnect(tenantId, connectionId, input),
    handleCallback: async (query) => (await consentParts.get()).flow.handleCallback(query),
  };
  const keyCapture: Pick<KeyCapture, "handle"> = {
    handle: async (req, res) => isCapturePath(req.url) && (await consentParts.get()).keyCapture.handle(req, res),
  };

  const oauthCallback = createOAuthCallbackRoute({ handleCallback: consent.handleCallback, logger });

  const engine = createRefreshEngine({
    store,
    vault,
    providers: directory,
    refreshGrant: createProviderGrant(oauth),
    now,
    random: Math.random,
    owner: replicaId,
    skewMs: config.refreshSkewMs,
    leaseMs: config.refreshLeaseMs,
    readWaitMs: config.refreshReadWaitMs,
    logger,
    metrics: createRefreshMetrics(registry),
    shouldKeepFresh: (connectionId) => hub.hasWatchers(connectionId),
    // Watchers hear of refreshes through the publishing store; these two only feed the audit log.
    onCredentialChanged: (e) =>
      auditRefreshOutcome(access.audit, {
        tenantId: e.tenantId,
        connectionId: e.connectionId,
        result: e.outcome,
        trigger: "engine",
        version: e.version,
      }),
    onStatusChanged: (e) =>
      auditRefreshOutcome(access.audit, {
        tenantId: e.tenantId,
        connectionId: e.connectionId,
        result: e.reason ?? e.status,
        trigger: "engine",
      }),
  });
  // A tick must come well inside the refresh margin: with a 5 s tick and a 1 s skew, a watched
  // token expires before the scheduler sees it due.
  const schedulerIntervalMs = Math.min(5_000, Math.max(100, config.refreshSkewMs / 4));
  // A tick claims no more than it runs at once: a claimed lease is renewed only once its refresh runs.
  const scheduler = createRefreshScheduler({
    store,
    engine,
    now,
    random: Math.random,
    logger,
    intervalMs: schedulerIntervalMs,
    concurrency: config.refreshConcurrency,
    batchSize: config.refreshConcurrency,
  });
  const consentSweeper = createStaleConsentSweeper({ store, now, logger });
  const eventPruner = createConnectionEventPruner({
    store,
    now,
    logger,
    retentionDays: config.connectionEventRetentionDays,
    // Events an enabled webhook endpoint has not delivered (or given up) yet are kept, whatever their age.
    keepAfterSeq: async () => (await store.oldestWebhookCursorSeq()) ?? undefined,
  });
  const tokens = createTokenReader({ store, engine });
  const watch = createCredentialWatch({ store, hub, engine, readCredential: tokens.readConnection, readWatched: tokens.readWatched });
  // Webhooks: the SSRF rules and sender are shared by the delivery worker and ReplayWebhookDelivery.
  const webhookRules = createTargetRules({ isHttpAllowed: config.webhooks.isHttpAllowed, allowedCidrs: config.webhooks.allowedCidrs });
  const webhookSend = createWebhookSender({
    rules: webhookRules,
    connectTimeoutMs: config.webhooks.connectTimeoutMs,
    timeoutMs: config.webhooks.timeoutMs,
    maxResponseBytes: DEFAULT_WEBHOOK_MAX_RESPONSE_BYTES,
  });
  const webhookWorker: DeliveryWorker = createDeliveryWorker({
    store,
    outbox: createStoreOutbox(store),
    vault,
    send: webhookSend,
    now,
    random: Math.random,
    owner: replicaId,
    logger,
    metrics: createWebhookMetrics(registry, () => webhookWorker.outboxStats()),
    leaseMs: config.webhooks.leaseMs,
    pollIntervalMs: config.webhooks.pollIntervalMs,
    attemptTimeoutMs: config.webhooks.timeoutMs,
    retryWindowMs: config.webhooks.retryWindowMs,
    backoff: {
      baseMs: config.webhooks.backoffBaseMs,
      maxMs: config.webhooks.backoffMaxMs,
      minMs: Math.min(1_000, config.webhooks.backoffBaseMs),
    },
  });
  wakeWebhooks = () => webhookWorker.wake();
  const assertMayReceive = (ctx: HandlerContext) => ctx.values.get(kAssertKeyValid)();
  // Streams on the wire share one subscription, read and encoding per event (services/watch-fanout.ts).
  const fanout = createWatchFanout({
    hub,
    watch,
    engine,
    assertMayReceive,
    // Right after the key's re-check, as the bytes are written: the fan-out bypasses kAdmitOnSend.
    // The streams of one key, tenant and address written in the same turn share one row per version.
    auditDelivery: (ctx, credential, streams) =>
      auditCredentialDelivered(access.audit, ctx, { connectionId: credential.connectionId, version: credential.version, streams }),
    auditGroupOf: credentialDeliveryGroup,
    // The key check reads only the key's id (revoked) and expiry: streams sharing both share its answer.
    keyOf: (ctx) => {
      const principal = ctx.values.get(kPrincipal);
      return principal === undefined ? "" : `${principal.keyId}\n${principal.expiresAtMs ?? ""}`;
    },
  });
  const tokenService = createTokenService({
    tokens,
    scope: access.scope,
    store,
    watch,
    fanout,
    assertMayReceive,
    // Admitted after the key's last check before the credential is sent (key-validity interceptor).
    onCredentialDelivered: (ctx, credential) =>
      ctx.values.get(kAdmitOnSend)(() =>
        auditCredentialDelivered(access.audit, ctx, { connectionId: credential.connectionId, version: credential.version }),
      ),
  });
  const health = createHealthService({ services: NEXUS_SERVICES.map((s) => s.typeName) });
  const routes = createRoutes({
    connections: createConnectionService({
      store,
      scope: access.scope,
      consent,
      revoker: createConnectionRevoker({ store, vault, providers: directory, oauth, logger }),
    }),
    tokens: tokenService,
    providers: createProviderService({ directory, catalog }),
    apiKeys: access.apiKeyService,
    audit: access.auditService,
    connectionEvents: createConnectionEventService({
      scope: access.scope,
      store,
      watch: createConnectionEventWatch({ store, feed, now }),
    }),
    webhooks: createWebhookService({
      store,
      vault,
      rules: webhookRules,
      send: webhookSend,
      now,
      secretOverlapMs: config.webhooks.secretOverlapMs,
      onEndpointChanged: () => webhookWorker.wake(),
    }),
    health: health.impl,
    reflection: createReflectionService({ services: [...NEXUS_SERVICES, Health], files: ERROR_DETAIL_FILES }),
  });

  // Interceptor order: server/app/interceptor-order.ts (declared once, with the reasons).
  const byRole: InterceptorsByRole = {
    logging: createLoggingInterceptor({ logger }),
    metrics: createMetricsInterceptor({ metrics }),
    error: createErrorInterceptor({ logger }),
    ...access.interceptors,
    input: createInputInterceptor(),
  };
  const interceptors = orderInterceptors(byRole, "public");
  const shutdown = new AbortController();
  const routerOptions = {
    interceptors,
    readMaxBytes: config.maxBodyBytes,
    // Reject unknown JSON fields: a misspelt field should be an InvalidArgument, not silently ignored.
    jsonOptions: { ignoreUnknownFields: false },
    shutdownSignal: shutdown.signal,
  };

  const rest = createRestHandler({
    services: NEXUS_SERVICES,
    // Only this in-process transport trusts the client-address header the REST handler sets.
    // Calls the implementations directly (no second encode/decode through a Connect client).
    transport: createInProcessTransport(routes, {
      interceptors: orderInterceptors(byRole, "in-process"),
      shutdownSignal: shutdown.signal,
    }),
    maxBodyBytes: config.maxBodyBytes,
    clientAddress: (req) => access.clientAddress(req),
  });
  const proxyMetrics = createProxyMetrics(registry);
  const proxyAccess = overrides.proxyAccess ?? createProxyAccess({ openTenants: config.proxyOpenTenants });
  // Imported and built on the first proxy request (cold start).
  const proxy = lazyPart(async () =>
    (await import("./proxy/proxy-handler.ts")).createProxyHandler({
      authenticate: (req, facts) =>
        access.authenticate(req, { ...facts, access: accessOf("nexus.v1.TokenService", "GetToken"), what: "proxy" }),
      access: proxyAccess,
      store,
      tokens,
      audit: access.audit,
      metrics: proxyMetrics,
      errorJson: rest.errorJson,
      clientAddress: (req) => access.clientAddress(req),
      now,
      limits: {
        maxRequestBytes: config.proxyMaxRequestBytes,
        maxResponseBytes: config.proxyMaxResponseBytes,
        maxSignedBodyBytes: config.proxyMaxSignedBodyBytes,
      },
      logger,
    }),
  );
  let acceptingTraffic = true;
  const endpoints = createEndpoints({
    registry,
    checks: { store: () => store.ping().then(() => true) },
    isAcceptingTraffic: () => acceptingTraffic,
    metricsToken: config.metricsToken,
    errorJson: rest.errorJson,
    beforeMetrics: () => processMetrics.get(),
  });

  // connect-node's adapter plus a check that binary messages parse (else connect-es says Internal).
  // No acceptCompression: request and response compression stay off, so attacker-chosen input is
  // never compressed together with credentials in a response (CRIME/BREACH-style length leaks).
  const adapter: ListenerRequestHandler = createNodeAdapter({
    routes,
    ...routerOptions,
    logger,
    contextValues: (req, res) => {
      const values = createContextValues();
      values.set(kClientAddress, access.clientAddress(req));
      const raw = rawStreamOf(req, res);
      if (raw !== undefined) values.set(kRawStream, raw);
      return values;
    },
    fallback: (req, res) => {
      void (async () => {
        if (await endpoints(req, res)) return;
        // Browsers return from providers here; before REST, which would answer 404 for the path.
        // Their audit rows (consent finish/fail) carry this request's id and address.
        const browser = { requestId: randomUUID(), clientAddress: access.clientAddress(req) };
        if (await access.audit.withRequest(browser, () => oauthCallback(req, res))) return;
        if (await access.audit.withRequest(browser, () => keyCapture.handle(req, res))) return;
        if (await rest.handle(req, res)) return;
        sendNotFound(req, res, rest.errorJson);
      })().catch((err: unknown) => {
        logger.error({ err }, "unhandled error in HTTP fallback");
        if (!res.headersSent) {
          res.writeHead(500, { "content-type": "application/json" });
          res.end(JSON.stringify(rest.errorJson(toConnectError(err).error)));
        } else res.end();
      });
    },
  });

  // CORS first: a preflight never reaches the protocols, and allowed origins get their headers on
  // every answer (the adapter's writeHead keeps headers set before it).
  const handler: ListenerRequestHandler = (req, res) => {
    if (access.cors(req, res)) return;
    // The proxy streams bodies itself, so it comes before the RPC adapter, which would read them.
    if (isProxyTarget(req.url)) {
      proxy
        .get()
        .then((handler) => handler.handle(req, res))
        .catch((err: unknown) => {
          logger.error({ err }, "unhandled error in the proxy");
          res.destroy();
        });
    } else adapter(req, res);
  };

  // WatchCredentials over HTTP/2 without connect-node's per-request state: same interceptors, same handler.
  const watchH2 = createWatchH2({
    impl: tokenService,
    interceptors,
    readMaxBytes: config.maxBodyBytes,
    jsonOptions: routerOptions.jsonOptions,
    shutdownSignal: shutdown.signal,
    clientAddress: (stream, headers) => access.clientAddress({ socket: stream.session?.socket, headers } as never),
    logger,
  });

  // GetToken (the hot path) the same way: the same interceptors, the TokenService handler, connect-es's wire.
  const unaryH2 = createUnaryH2({
    impl: tokenService,
    interceptors,
    readMaxBytes: config.maxBodyBytes,
    jsonOptions: routerOptions.jsonOptions,
    shutdownSignal: shutdown.signal,
    clientAddress: (stream, headers) => access.clientAddress({ socket: stream.session?.socket, headers } as never),
    logger,
  });
  const isWatchH2Enabled = overrides.isWatchH2Enabled ?? (() => true);
  const isUnaryH2Enabled = overrides.isUnaryH2Enabled ?? (() => true);

  const connectionMetrics = registerConnectionMetrics(registry, () => listener.connections());
  const listener = createListener({
    handler,
    claimHttp2Stream: (stream, headers, handOff, schedule) =>
      (isWatchH2Enabled() && watchH2.claim(stream, headers, handOff)) ||
      (isUnaryH2Enabled() && unaryH2.claim(stream, headers, handOff, schedule)),
    logger,
    maxConnections: config.maxConnections,
    maxConnectionsPerAddress: config.maxConnectionsPerAddress,
    isExemptFromPerAddressCap: access.isTrustedProxy,
    http2IdleTimeoutMs: config.http2IdleTimeoutMs,
    http2PingIntervalMs: config.http2PingIntervalMs,
    http2PingTimeoutMs: config.http2PingTimeoutMs,
    onConnectionRefused: (reason) => connectionMetrics.rejected.inc({ reason }),
    onConnectionClosed: (reason) => connectionMetrics.closed.inc({ reason }),
    onBeforeClose: () => {
      acceptingTraffic = false;
      health.shutdown();
      // Ends every watch stream cleanly; clients reconnect to another replica and resume.
      hub.close();
      feed.close();
      shutdown.abort(new ConnectError("server is shutting down", Code.Unavailable));
    },
  });

  let processMetricsTimer: NodeJS.Timeout | undefined;
  let closing: Promise<void> | undefined;
  let hurry: () => void = () => {};
  const hurried = new Promise<void>((resolve) => (hurry = resolve));
  const refreshDrainMs = refreshDrainBudgetMs({ leaseMs: config.refreshLeaseMs });
  return {
    handler,
    logger,
    registry,
    store,
    vault,
    audit: access.audit,
    apiKeys: access.keys,
    watchFanout: fanout,
    watchH2,
    unaryH2,
    async listen() {
      await bridge?.start();
      scheduler.start();
      consentSweeper.start();
      eventPruner.start();
      webhookWorker.start();
      const address = await listener.listen(config.port, config.host);
      processMetricsTimer = setTimeout(() => {
        processMetrics.get().catch((err: unknown) => logger.error({ err }, "the process metrics could not be registered"));
      }, DEFAULT_PROCESS_METRICS_DELAY_MS);
      processMetricsTimer.unref();
      // After listening, not before, and one preset per turn: validating the presets compiles their
      // schemas, which would hold the first requests (cold start). A ListProviderPresets before it
      // is done loads the catalog at once (createLazyProviderCatalog).
      loadProviderCatalogGradually().then(
        (ready) => catalog.provide(ready),
        (err: unknown) => logger.error({ err }, "the provider catalog is invalid; ListProviderPresets fails until it is fixed"),
      );
      return address;
    },
    close(options) {
      if (options?.isUrgent === true) hurry();
      closing ??= (async () => {
        // The scheduler stops first (no refresh starts from here on) while the listener drains.
        clearTimeout(processMetricsTimer);
        const schedulerStopped = scheduler.stop();
        await Promise.race([listener.close({ graceMs: config.shutdownGraceMs }), hurried]);
        // Refreshes still running (background, scheduled) finish and save first: a rotated refresh
        // token the provider already sent must not die with the process (rolling deploys). The
        // scheduler's are engine flights too, so this one bounded wait covers them.
        const unfinished = await engine.drain(refreshDrainMs);
        if (unfinished > 0)
          logger.warn({ unfinished }, "refreshes still running at shutdown; their leases run out and another replica retries");
        else await schedulerStopped;
        await proxy.close((built) => built.close());
        await consentSweeper.stop();
        await eventPruner.stop();
        await webhookWorker.stop();
        await bridge?.close();
        await access.close();
        await store.close();
        releaseDataDir();
        logger.info("nexus stopped");
      })();
      return closing;
    },
  };
}

function devKeyring(config: Config, logger: Logger) {
  const { keyring, file, created } = loadOrCreateDevKeyring(config.dataDir);
  if (created) {
    logger.warn(
      { file },
      "DEVELOPMENT MODE: generated a new encryption keyring (mode 0600). Back it up: losing it loses every stored secret. Production requires NEXUS_ENCRYPTION_KEYS.",
    );
  }
  return keyring;
}
