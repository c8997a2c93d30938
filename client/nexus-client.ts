/**
 * createNexusClient: the one object an agent builds to talk to Nexus. It assembles the transport
 * (gRPC, Connect or gRPC-Web; node http or a fetch you pass), attaches the API key to every call,
 * and hands out typed clients for the six services plus the helpers built on them (credential
 * cache, watch and fetch; the resuming connection-event watch; the credential proxy
 * `proxy(connectionId).fetch`). Errors from the typed clients are ConnectErrors, untouched.
 */
import { type Client, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { validateReadWriteMaxBytes } from "@connectrpc/connect/protocol";
import { createTransport as createConnectProtocolTransport } from "@connectrpc/connect/protocol-connect";
import { createTransport as createGrpcWebProtocolTransport } from "@connectrpc/connect/protocol-grpc-web";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { ApiKeyService } from "../gen/nexus/v1/api_keys_pb.ts";
import { AuditService } from "../gen/nexus/v1/audit_pb.ts";
import { ConnectionService } from "../gen/nexus/v1/connections_pb.ts";
import type { Credential } from "../gen/nexus/v1/credential_pb.ts";
import { type ConnectionEvent, ConnectionEventService } from "../gen/nexus/v1/events_pb.ts";
import { ProviderService } from "../gen/nexus/v1/providers_pb.ts";
import { TokenService } from "../gen/nexus/v1/tokens_pb.ts";
import { type Clock, systemClock } from "./clock.ts";
import { type CredentialCache, createCredentialCache, type GetCredentialOptions } from "./credential-cache.ts";
import { AttentionRequiredError, ConnectionRevokedError } from "./errors.ts";
import { createFetchHttpClient } from "./fetch-http-client.ts";
import { type Logger, silentLogger } from "./logger.ts";
import type { MetricsRegistry } from "./metrics.ts";
import { type NexusFetchOptions, nexusFetch } from "./nexus-fetch.ts";
import { type NexusProxy, nexusProxy } from "./nexus-proxy.ts";
import { type WatchCredentialsOptions, watchCredentials } from "./watch.ts";
import { type WatchConnectionsOptions, watchConnections } from "./watch-connections.ts";

/** The wire protocol to Nexus. All three are served on the same port. */
export type NexusProtocol = "connect" | "grpc" | "grpc-web";

/** Options of {@link createNexusClient}. */
export interface NexusClientOptions {
  /** Nexus's address, e.g. "https://nexus.example.com". */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <apiKey>` on every call. Never logged. */
  apiKey?: string;
  /** Default "connect". */
  protocol?: NexusProtocol;
  /** HTTP version of the built-in node transports. Default "2" (gRPC requires it). */
  httpVersion?: "1.1" | "2";
  /** Send Nexus calls through this fetch instead of node http (connect and grpc-web only). */
  fetch?: typeof globalThis.fetch;
  /** A ready transport to use instead of building one; the API key header is still added. */
  transport?: Transport;
  /** Extra interceptors for the built transport; the first is the outermost. */
  interceptors?: Interceptor[];
  /** Credentials count as stale this long before `expires_at`. Default 60 000 ms. */
  credentialSkewMs?: number;
  /** Defaults for every watch opened through the client (heartbeat period, backoff). */
  watch?: Omit<WatchCredentialsOptions, "signal" | "afterVersion" | "onStatus">;
  /** Default: the system clock. */
  clock?: Clock;
  /** Pino-compatible logger. Default: silent. */
  logger?: Logger;
  /** prom-client Registry for bridges built on this client. Default: each bridge makes its own. */
  registry?: MetricsRegistry;
}

/** A connected Nexus client: typed service clients and the credential helpers. */
export interface NexusClient {
  /** ConnectionService: request, check, list, revoke, reconnect connections. */
  readonly connections: Client<typeof ConnectionService>;
  /** TokenService: GetToken, RefreshConnection, WatchCredentials. */
  readonly tokens: Client<typeof TokenService>;
  /** ProviderService: provider profiles and the catalog. */
  readonly providers: Client<typeof ProviderService>;
  /** ApiKeyService: create, list, revoke API keys. */
  readonly apiKeys: Client<typeof ApiKeyService>;
  /** AuditService: the audit log. */
  readonly audit: Client<typeof AuditService>;
  /** ConnectionEventService: WatchConnections. */
  readonly connectionEvents: Client<typeof ConnectionEventService>;
  /** The transport every call goes through. */
  readonly transport: Transport;
  /** The client's credential cache, fed by every watch opened through the client. */
  readonly credentials: CredentialCache;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly registry: MetricsRegistry | undefined;
  /** Shorthand for `credentials.getCredential`. */
  getCredential(connectionId: string, options?: GetCredentialOptions): Promise<Credential>;
  /** {@link watchCredentials} with the client's defaults; every credential also feeds the cache. */
  watchCredentials(connectionId: string, options?: WatchCredentialsOptions): AsyncGenerator<Credential, void, undefined>;
  /**
   * {@link watchConnections} with the client's logger and watch defaults: the tenant's connection
   * events, resumed from the last cursor after every reconnect.
   */
  watchConnections(options?: WatchConnectionsOptions): AsyncGenerator<ConnectionEvent, void, undefined>;
  /** {@link nexusFetch} over the client's cache, clock and logger. */
  fetch(connectionId: string, options?: Omit<NexusFetchOptions, "credentials">): typeof globalThis.fetch;
  /**
   * {@link nexusProxy}: calls the provider through Nexus's credential proxy with this client's API
   * key (and its `fetch` option, if any); the agent never holds the token.
   *
   * @example
   * const response = await client.proxy(connectionId).fetch("/user");
   */
  proxy(connectionId: string): NexusProxy;
  /** Closes pooled HTTP/2 sessions; calls in flight fail. */
  close(): void;
}

/**
 * Creates a Nexus client.
 *
 * @example
 * const client = createNexusClient({ baseUrl: "https://nexus.example.com", apiKey, protocol: "grpc" });
 * const { status } = await client.connections.checkConnection({ connectionId });
 * const credential = await client.getCredential(connectionId);
 */
export function createNexusClient(options: NexusClientOptions): NexusClient {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const { transport, sessionManager } = buildTransport(options);
  const tokens = createClient(TokenService, transport);
  const connectionEvents = createClient(ConnectionEventService, transport);
  const credentials = createCredentialCache({
    tokens,
    clock,
    logger,
    ...(options.credentialSkewMs === undefined ? {} : { skewMs: options.credentialSkewMs }),
  });

  async function* watchAndFeed(connectionId: string, watchOptions: WatchCredentialsOptions = {}) {
    try {
      for await (const credential of watchCredentials(tokens, connectionId, { logger, ...options.watch, ...watchOptions })) {
        credentials.put(credential);
        yield credential;
      }
    } catch (err) {
      // The cached credential of a dead connection must not be served on.
      if (err instanceof AttentionRequiredError || err instanceof ConnectionRevokedError) credentials.invalidate(connectionId);
      throw err;
    }
  }

  return {
    connections: createClient(ConnectionService, transport),
    tokens,
    providers: createClient(ProviderService, transport),
    apiKeys: createClient(ApiKeyService, transport),
    audit: createClient(AuditService, transport),
    connectionEvents,
    transport,
    credentials,
    clock,
    logger,
    registry: options.registry,
    getCredential: (connectionId, getOptions) => credentials.getCredential(connectionId, getOptions),
    watchCredentials: watchAndFeed,
    watchConnections: (watchOptions) =>
      watchConnections(connectionEvents, {
        logger,
        ...(options.watch?.backoff === undefined ? {} : { backoff: options.watch.backoff }),
        ...(options.watch?.heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs: options.watch.heartbeatIntervalMs }),
        ...(options.watch?.missedHeartbeats === undefined ? {} : { missedHeartbeats: options.watch.missedHeartbeats }),
        ...watchOptions,
      }),
    fetch: (connectionId, fetchOptions) => nexusFetch(connectionId, { clock, logger, ...fetchOptions, credentials }),
    proxy: (connectionId) => nexusProxy(connectionId, { baseUrl: options.baseUrl, apiKey: options.apiKey, fetch: options.fetch }),
    close() {
      sessionManager?.abort();
    },
  };
}

function buildTransport(options: NexusClientOptions): { transport: Transport; sessionManager?: Http2SessionManager } {
  const apiKeyInterceptors: Interceptor[] = options.apiKey ? [apiKeyInterceptor(options.apiKey)] : [];
  if (options.transport) {
    return { transport: options.apiKey ? withApiKey(options.transport, options.apiKey) : options.transport };
  }
  const protocol = options.protocol ?? "connect";
  // The API key goes innermost so caller interceptors see (and may log) calls without setting it.
  const interceptors = [...(options.interceptors ?? []), ...apiKeyInterceptors];
  const baseUrl = options.baseUrl;

  if (options.fetch) {
    if (protocol === "grpc") throw new TypeError('protocol "grpc" needs HTTP/2 trailers; it cannot run over fetch');
    const common = {
      baseUrl,
      httpClient: createFetchHttpClient(options.fetch),
      useBinaryFormat: true,
      interceptors,
      acceptCompression: [],
      sendCompression: null,
      ...validateReadWriteMaxBytes(undefined, undefined, undefined),
    };
    const transport = protocol === "connect" ? createConnectProtocolTransport(common) : createGrpcWebProtocolTransport(common);
    return { transport };
  }

  const httpVersion = protocol === "grpc" ? "2" : (options.httpVersion ?? "2");
  if (httpVersion === "1.1") {
    const transport =
      protocol === "connect"
        ? createConnectTransport({ baseUrl, httpVersion, interceptors })
        : createGrpcWebTransport({ baseUrl, httpVersion, interceptors });
    return { transport };
  }
  // One session manager per client, kept so close() can end the pooled HTTP/2 connection.
  const sessionManager = new Http2SessionManager(baseUrl, { idleConnectionTimeoutMs: 60_000 });
  const h2 = { baseUrl, httpVersion: "2" as const, interceptors, sessionManager };
  const transport =
    protocol === "grpc" ? createGrpcTransport(h2) : protocol === "connect" ? createConnectTransport(h2) : createGrpcWebTransport(h2);
  return { transport, sessionManager };
}

/** The interceptor that authenticates every call to Nexus with the API key. */
function apiKeyInterceptor(apiKey: string): Interceptor {
  return (next) => (request) => {
    request.header.set("authorization", `Bearer ${apiKey}`);
    return next(request);
  };
}

/** A caller's ready transport cannot take interceptors, so the header is merged per call instead. */
function withApiKey(transport: Transport, apiKey: string): Transport {
  const header = (init: ConstructorParameters<typeof Headers>[0]): Headers => {
    const headers = new Headers(init);
    headers.set("authorization", `Bearer ${apiKey}`);
    return headers;
  };
  return {
    unary: (method, signal, timeoutMs, init, input, contextValues) =>
      transport.unary(method, signal, timeoutMs, header(init), input, contextValues),
    stream: (method, signal, timeoutMs, init, input, contextValues) =>
      transport.stream(method, signal, timeoutMs, header(init), input, contextValues),
  };
}
