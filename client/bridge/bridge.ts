/**
 * The Bridge: the agent-side keeper of long-lived links (WebSocket, gRPC) authenticated with Nexus
 * credentials, with shared metrics and logging — the TypeScript counterpart of the Go bridge's
 * `bridge.NewStandard`. It only assembles; each link's behaviour lives in websocket.ts / grpc.ts.
 */
import type { BackoffOptions } from "../backoff.ts";
import type { Logger } from "../logger.ts";
import { type BridgeMetrics, createBridgeMetrics, type MetricsRegistry } from "../metrics.ts";
import type { NexusClient } from "../nexus-client.ts";
import { type GrpcRunContext, type MaintainGrpcOptions, maintainGrpc } from "./grpc.ts";
import type { LinkEnvironment, MaintainHandle } from "./link-supervisor.ts";
import { type MaintainWebSocketOptions, maintainWebSocket, type WebSocketHandler } from "./websocket.ts";

/** Options of {@link createBridge}. */
export interface BridgeOptions {
  /** The Nexus client: credentials, watch, clock and logger come from it. */
  client: NexusClient;
  /** Constant labels on every bridge metric, e.g. `{ agent_id: "my-stable-id" }`. */
  labels?: Record<string, string>;
  /** Metrics to record into; default `createBridgeMetrics({ registry, labels })`. */
  metrics?: BridgeMetrics;
  /** Registry for the default metrics; default the client's, else a new one. */
  registry?: MetricsRegistry;
  /** Default: the client's logger. */
  logger?: Logger;
  /** Reconnect delays of every link (each link may override). Defaults: 250 ms floor, 30 s ceiling. */
  backoff?: BackoffOptions;
  /** Polling period when the server has no WatchCredentials. Default 30 000 ms. */
  pollIntervalMs?: number;
}

/** Keeps links alive; every link started through it is stopped by `stop()`. */
export interface Bridge {
  /** The metrics every link records into. */
  readonly metrics: BridgeMetrics;
  /**
   * Keeps a WebSocket to `url` open, authenticated with the connection's credential.
   *
   * @example
   * const handle = bridge.maintainWebSocket(connectionId, "wss://stream.example.com", { onMessage: (d) => use(d) });
   */
  maintainWebSocket(connectionId: string, url: string | URL, handler: WebSocketHandler, options?: MaintainWebSocketOptions): MaintainHandle;
  /**
   * Keeps a gRPC/Connect workload running with per-call credentials.
   *
   * @example
   * const handle = bridge.maintainGrpc(connectionId, async ({ interceptor, signal }) => { ... });
   */
  maintainGrpc(connectionId: string, run: (context: GrpcRunContext) => Promise<void>, options?: MaintainGrpcOptions): MaintainHandle;
  /** Stops every link started through this bridge. */
  stop(): Promise<void>;
}

/**
 * Creates a bridge. Its default metrics need the optional peer dependency prom-client; without it
 * (and without `metrics`) this throws a TypeError naming the package to install.
 *
 * @example
 * const client = createNexusClient({ baseUrl: "https://nexus.example.com", apiKey });
 * const bridge = createBridge({ client, labels: { agent_id: "my-stable-id" } });
 * http.createServer(metricsHandler(bridge.metrics.registry)).listen(9090);
 * bridge.maintainWebSocket(connectionId, "wss://external.service.com/stream", myHandler);
 */
export function createBridge(options: BridgeOptions): Bridge {
  const { client } = options;
  const registry = options.registry ?? client.registry;
  const metrics =
    options.metrics ?? createBridgeMetrics({ ...(registry ? { registry } : {}), ...(options.labels ? { labels: options.labels } : {}) });
  const env: LinkEnvironment = {
    client,
    metrics,
    logger: options.logger ?? client.logger,
    ...(options.backoff ? { backoff: options.backoff } : {}),
    ...(options.pollIntervalMs === undefined ? {} : { pollIntervalMs: options.pollIntervalMs }),
  };
  const handles = new Set<MaintainHandle>();
  const track = (handle: MaintainHandle): MaintainHandle => {
    handles.add(handle);
    handle.done.then(
      () => handles.delete(handle),
      () => handles.delete(handle),
    );
    return handle;
  };

  return {
    metrics,
    maintainWebSocket: (connectionId, url, handler, linkOptions) => track(maintainWebSocket(env, connectionId, url, handler, linkOptions)),
    maintainGrpc: (connectionId, run, linkOptions) => track(maintainGrpc(env, connectionId, run, linkOptions)),
    async stop() {
      await Promise.all([...handles].map((handle) => handle.stop()));
    },
  };
}
