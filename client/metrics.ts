/**
 * The bridge's Prometheus metrics (the Go bridge's names, plus two histograms) and the /metrics
 * handler. Caller labels (agent_id...) are constant labels on every series. Metrics are looked up
 * in the registry before being created, so two bridges can share one registry; no global
 * registry is touched, and no label ever carries a credential. prom-client is an optional peer
 * dependency, loaded only when metrics are created: agents that never build a bridge skip it.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type * as PromClient from "prom-client";
import type { Metric, Registry } from "prom-client";

/**
 * A prom-client `Registry` (prom-client 15), as far as the bridge uses it. Declared here so the
 * client's types need no prom-client installed; pass a real `new Registry()` from prom-client.
 */
export interface MetricsRegistry {
  /** The Prometheus exposition content type. */
  readonly contentType: string;
  /** The registry's metrics in the Prometheus text format. */
  metrics(): Promise<string>;
  /** The metric registered under `name`, if any. */
  getSingleMetric(name: string): unknown;
}

/** The kind of link a bridge keeps. */
export type BridgeTransport = "websocket" | "grpc";

/** Which maintained link an observation is about. */
export interface BridgeMetricTarget {
  connectionId: string;
  transport: BridgeTransport;
}

/** Options of {@link createBridgeMetrics}. */
export interface BridgeMetricsOptions {
  /** Where the metrics live (a prom-client Registry). Default: a new Registry (never prom-client's global one). */
  registry?: MetricsRegistry;
  /** Constant labels on every series, e.g. `{ agent_id: "my-stable-id" }`. */
  labels?: Record<string, string>;
}

/** The bridge's observations, one method per event. */
export interface BridgeMetrics {
  /** The registry holding the metrics (serve it with {@link metricsHandler}). */
  readonly registry: MetricsRegistry;
  /** A link was established: bridge_connections_total +1, bridge_connection_status = 1. */
  connected(target: BridgeMetricTarget): void;
  /** An established link was lost: bridge_disconnects_total +1, bridge_connection_status = 0. */
  disconnected(target: BridgeMetricTarget): void;
  /** A new credential version arrived (rotation, refresh): bridge_token_refreshes_total +1. */
  tokenRefreshed(target: BridgeMetricTarget): void;
  /** A reconnect waits this long: bridge_reconnect_delay_seconds. */
  reconnectDelay(target: BridgeMetricTarget, seconds: number): void;
  /** A link was (re)authenticated with a credential first seen this long ago: bridge_credential_age_seconds. */
  credentialAge(target: BridgeMetricTarget, seconds: number): void;
}

const VARIABLE_LABELS = ["connection_id", "transport"] as const;

/**
 * Creates (or finds, in a registry that already has them) the bridge metrics: counters
 * `bridge_connections_total`, `bridge_disconnects_total`, `bridge_token_refreshes_total`, gauge
 * `bridge_connection_status`, histograms `bridge_reconnect_delay_seconds` and
 * `bridge_credential_age_seconds`, each labelled connection_id, transport and the constant labels.
 * Needs the optional peer dependency prom-client (`npm install prom-client`); throws a TypeError
 * saying so when it is missing.
 *
 * @example
 * const metrics = createBridgeMetrics({ registry, labels: { agent_id: "my-stable-id" } });
 * const bridge = createBridge({ client, metrics });
 */
export function createBridgeMetrics(options: BridgeMetricsOptions = {}): BridgeMetrics {
  const { Counter, Gauge, Histogram, Registry } = loadPromClient();
  // A MetricsRegistry from the caller is a prom-client Registry by contract (see its doc).
  const registry = (options.registry as Registry | undefined) ?? new Registry();
  const constantLabels = options.labels ?? {};
  for (const name of Object.keys(constantLabels)) {
    if ((VARIABLE_LABELS as readonly string[]).includes(name)) {
      throw new TypeError(`constant label "${name}" clashes with a label the bridge sets itself`);
    }
  }
  const labelNames = [...Object.keys(constantLabels), ...VARIABLE_LABELS];
  const find = <T extends Metric>(name: string, kind: abstract new (...args: never[]) => T, make: () => T): T =>
    reuse(registry, name, kind, labelNames) ?? make();
  const registers = [registry];

  const connections = find(
    "bridge_connections_total",
    Counter,
    () => new Counter({ name: "bridge_connections_total", help: "Links the bridge established.", labelNames, registers }),
  );
  const disconnects = find(
    "bridge_disconnects_total",
    Counter,
    () => new Counter({ name: "bridge_disconnects_total", help: "Established links the bridge lost.", labelNames, registers }),
  );
  const refreshes = find(
    "bridge_token_refreshes_total",
    Counter,
    () =>
      new Counter({ name: "bridge_token_refreshes_total", help: "New credential versions the bridge received.", labelNames, registers }),
  );
  const status = find(
    "bridge_connection_status",
    Gauge,
    () => new Gauge({ name: "bridge_connection_status", help: "1 while the link is established, else 0.", labelNames, registers }),
  );
  const reconnectDelay = find(
    "bridge_reconnect_delay_seconds",
    Histogram,
    () =>
      new Histogram({
        name: "bridge_reconnect_delay_seconds",
        help: "Backoff delay before each reconnect.",
        labelNames,
        buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
        registers,
      }),
  );
  const credentialAge = find(
    "bridge_credential_age_seconds",
    Histogram,
    () =>
      new Histogram({
        name: "bridge_credential_age_seconds",
        help: "Age of the credential (since the bridge first saw its version) when a link authenticated with it.",
        labelNames,
        buckets: [1, 10, 60, 300, 900, 1800, 3600, 7200, 86400],
        registers,
      }),
  );

  const labelsOf = (target: BridgeMetricTarget) => ({
    ...constantLabels,
    connection_id: target.connectionId,
    transport: target.transport,
  });

  return {
    registry,
    connected(target) {
      connections.inc(labelsOf(target));
      status.set(labelsOf(target), 1);
    },
    disconnected(target) {
      disconnects.inc(labelsOf(target));
      status.set(labelsOf(target), 0);
    },
    tokenRefreshed(target) {
      refreshes.inc(labelsOf(target));
    },
    reconnectDelay(target, seconds) {
      reconnectDelay.observe(labelsOf(target), seconds);
    },
    credentialAge(target, seconds) {
      credentialAge.observe(labelsOf(target), Math.max(0, seconds));
    },
  };
}

/**
 * prom-client, resolved from this package's location (so the agent's own copy, the one its
 * Registry comes from: `instanceof` checks in {@link reuse} need the same classes). Synchronous
 * `require` keeps createBridge synchronous; prom-client 15 is CommonJS.
 */
function loadPromClient(): typeof PromClient {
  try {
    return createRequire(import.meta.url)("prom-client") as typeof PromClient;
  } catch (err) {
    if ((err as { code?: unknown }).code !== "MODULE_NOT_FOUND") throw err;
    throw new TypeError(
      "bridge metrics need the optional peer dependency prom-client: npm install prom-client@15 " +
        "(or pass your own `metrics` to createBridge)",
      { cause: err },
    );
  }
}

/**
 * A metric already registered under `name`, checked to be the same kind with the same label
 * names (else observations would fail later, far from the cause); undefined when absent.
 */
function reuse<T extends Metric>(
  registry: Registry,
  name: string,
  kind: abstract new (...args: never[]) => T,
  labelNames: readonly string[],
): T | undefined {
  const existing = registry.getSingleMetric(name);
  if (!existing) return undefined;
  const existingLabels = (existing as unknown as { labelNames?: readonly string[] }).labelNames ?? [];
  const sameLabels = existingLabels.length === labelNames.length && labelNames.every((label) => existingLabels.includes(label));
  if (!(existing instanceof kind) || !sameLabels) {
    throw new TypeError(
      `metric ${name} already exists in the registry with other labels (${existingLabels.join(",")}); ` +
        `bridges sharing a registry must use the same constant label names`,
    );
  }
  return existing;
}

/**
 * A node http handler serving the registry in the Prometheus text format, for `/metrics`.
 *
 * @example
 * http.createServer(metricsHandler(bridge.metrics.registry)).listen(9090);
 */
export function metricsHandler(registry: MetricsRegistry): (request: IncomingMessage, response: ServerResponse) => void {
  return (_request, response) => {
    registry.metrics().then(
      (body) => {
        response.writeHead(200, { "content-type": registry.contentType });
        response.end(body);
      },
      () => {
        response.writeHead(500, { "content-type": "text/plain" });
        response.end("metrics collection failed\n");
      },
    );
  };
}
