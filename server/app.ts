/**
 * Composition root: builds every dependency once, in data-flow order (store and vault → services →
 * interceptors → router → HTTP), and returns the assembled app. It never listens by itself, so tests
 * use exactly what `main.ts` runs. Nothing here reads process.env.
 */
import type { DestinationStream } from "pino";
import { Registry } from "prom-client";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Code, ConnectError, createContextValues, createRouterTransport, type Interceptor } from "@connectrpc/connect";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";
import type { Config } from "./config/config.ts";
import { createEndpoints, sendNotFound } from "./http/endpoints.ts";
import { createListener, type ListenerAddress, type ListenerRequestHandler } from "./http/listener.ts";
import { createLogger, type Logger } from "./logging/logger.ts";
import { createServerMetrics } from "./metrics/server-metrics.ts";
import { createHealthService } from "./reflection/health-service.ts";
import { createReflectionService } from "./reflection/reflection-service.ts";
import { createRestHandler } from "./rest/rest-handler.ts";
import { kClientAddress } from "./rpc/context.ts";
import { createErrorInterceptor } from "./rpc/interceptors/error-interceptor.ts";
import { createLoggingInterceptor } from "./rpc/interceptors/logging-interceptor.ts";
import { createMetricsInterceptor } from "./rpc/interceptors/metrics-interceptor.ts";
import { createRoutes, NEXUS_SERVICES } from "./rpc/routes.ts";
import { createApiKeyService, createAuditService } from "./services/admin-services.ts";
import { createProviderService } from "./services/provider-service.ts";
import { loadProviderCatalog } from "./providers/catalog.ts";
import { createProviderDirectory } from "./providers/provider-directory.ts";
import { createConnectionService } from "./services/connection-service.ts";
import { createKeyCapture } from "./capture/key-capture.ts";
import { createConnectionRevoker } from "./revocation/connection-revoker.ts";
import { createConsentFlow } from "./consent/consent-flow.ts";
import { createConsentStates } from "./consent/consent-states.ts";
import { createOAuthCallbackRoute } from "./consent/oauth-callback-route.ts";
import { createReturnUrlPolicy } from "./consent/return-url-policy.ts";
import { createOAuthClient } from "./oauth/oauth-client.ts";
import type { FetchFn } from "./oauth/request-options.ts";
import { DEFAULT_TENANT_ID, defaultTenantResolver } from "./services/tenant.ts";
import { createTokenService } from "./services/token-service.ts";
import { createTokenReader } from "./tokens/token-reader.ts";
import { openStore } from "./store/open-store.ts";
import type { Store } from "./store/store.ts";
import { loadOrCreateDevKeyring, parseKeyring } from "./vault/keyring.ts";
import { createVault, type Vault } from "./vault/vault.ts";

/** An assembled Nexus server. */
export interface App {
  /** The Node request handler serving every protocol, REST and the plain endpoints. */
  readonly handler: ListenerRequestHandler;
  /** Starts listening on the configured host and port (port 0 picks a free one). */
  listen(): Promise<ListenerAddress>;
  /** Graceful shutdown: readiness off, streams ended, in-flight requests drained, store closed. */
  close(): Promise<void>;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly store: Store;
  readonly vault: Vault;
}

/** Things tests (and embedders) may supply instead of the defaults. */
export interface AppOverrides {
  /** Where logs go (default stdout); tests pass a stream they can scan for secrets. */
  logDestination?: DestinationStream;
  /** Clock in epoch milliseconds for consent states and OAuth (default Date.now); tests move time. */
  now?: () => number;
  /** Outbound fetch for provider requests (default the global fetch); tests observe provider calls. */
  fetch?: FetchFn;
}

/** Builds the app from a validated configuration. */
export async function createApp(config: Config, overrides: AppOverrides = {}): Promise<App> {
  const logger = createLogger({ level: config.logLevel, destination: overrides.logDestination });

  const keyring = config.encryptionKeys !== undefined ? parseKeyring(config.encryptionKeys) : devKeyring(config, logger);
  const vault = createVault(keyring);
  const store = await openStore({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    onPoolError: (err) => logger.warn({ err: { name: err.name, code: (err as { code?: string }).code } }, "idle database connection failed"),
  });
  await store.ensureTenant({ id: DEFAULT_TENANT_ID, displayName: "Default" });

  const now = overrides.now ?? Date.now;
  const directory = createProviderDirectory({ store, vault });
  const states = createConsentStates({ store, vault, now });
  // Without NEXUS_PUBLIC_URL, browsers are assumed to reach this machine's loopback on the port
  // actually bound (known only after listen, hence a function).
  const publicUrl = () => config.publicUrl ?? `http://127.0.0.1:${listener.address()?.port ?? config.port}`;
  const oauth = createOAuthClient({ now, fetch: overrides.fetch });
  const keyCapture = createKeyCapture({
    store,
    vault,
    states,
    publicUrl,
    now,
    logger,
    fetch: overrides.fetch,
    loadProvider: (name) => directory.get(name),
  });
  const consent = createConsentFlow({
    store,
    vault,
    providers: directory,
    states,
    returnUrls: createReturnUrlPolicy(config.returnUrlOrigins),
    oauth,
    keyCapture,
    publicUrl,
    logger,
  });
  const oauthCallback = createOAuthCallbackRoute({ handleCallback: consent.handleCallback, logger });

  const registry = new Registry();
  const metrics = createServerMetrics(registry);
  const health = createHealthService({ services: NEXUS_SERVICES.map((s) => s.typeName) });
  const routes = createRoutes({
    connections: createConnectionService({
      store,
      tenantOf: defaultTenantResolver,
      consent,
      revoker: createConnectionRevoker({ store, vault, providers: directory, oauth, logger }),
    }),
    tokens: createTokenService({ tokens: createTokenReader({ store, vault, now }), tenantOf: defaultTenantResolver }),
    providers: createProviderService({ directory, catalog: loadProviderCatalog() }),
    apiKeys: createApiKeyService(),
    audit: createAuditService(),
    health: health.impl,
    reflection: createReflectionService({ services: [...NEXUS_SERVICES, Health] }),
  });

  // First entry = outermost layer. Logging sees everything (and sets the request id), metrics see
  // final codes, and the error mapper turns domain errors into codes before either looks.
  const interceptors: Interceptor[] = [
    createLoggingInterceptor({ logger }),
    createMetricsInterceptor({ metrics }),
    createErrorInterceptor({ logger }),
  ];
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
    transport: createRouterTransport(routes, { router: routerOptions }),
    maxBodyBytes: config.maxBodyBytes,
    clientAddress: (req) => req.socket?.remoteAddress ?? "",
  });
  let acceptingTraffic = true;
  const endpoints = createEndpoints({
    registry,
    checks: { store: () => store.ping().then(() => true) },
    isAcceptingTraffic: () => acceptingTraffic,
  });

  const handler: ListenerRequestHandler = connectNodeAdapter({
    routes,
    ...routerOptions,
    contextValues: (req) => {
      const values = createContextValues();
      values.set(kClientAddress, req.socket?.remoteAddress ?? "");
      return values;
    },
    fallback: (req, res) => {
      void (async () => {
        if (await endpoints(req, res)) return;
        // Browsers return from providers here; before REST, which would answer 404 for the path.
        if (await oauthCallback(req, res)) return;
        if (await keyCapture.handle(req, res)) return;
        if (await rest.handle(req, res)) return;
        sendNotFound(req, res);
      })().catch((err: unknown) => {
        logger.error({ err }, "unhandled error in HTTP fallback");
        if (!res.headersSent) {
          res.writeHead(500, { "content-type": "application/json" });
          res.end(JSON.stringify({ code: "internal", message: "internal error" }));
        } else res.end();
      });
    },
  });

  const listener = createListener({
    handler,
    logger,
    onBeforeClose: () => {
      acceptingTraffic = false;
      health.shutdown();
      shutdown.abort(new ConnectError("server is shutting down", Code.Unavailable));
    },
  });

  let closing: Promise<void> | undefined;
  return {
    handler,
    logger,
    registry,
    store,
    vault,
    listen: () => listener.listen(config.port, config.host),
    close() {
      closing ??= (async () => {
        await listener.close({ graceMs: config.shutdownGraceMs });
        await store.close();
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
