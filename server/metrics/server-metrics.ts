/**
 * Server metrics on a caller-supplied prom-client Registry (never the global one, so two servers can
 * live in one process). Labels carry names and codes only: never ids, tokens or other values.
 */
import { Counter, Gauge, Histogram, type Registry } from "./prom-client-parts.ts";

/** The server's metric instruments. */
export interface ServerMetrics {
  /** The registry everything is registered on; serve it at /metrics. */
  readonly registry: Registry;
  /** RPCs finished, by service, method and final code ("ok" or a Connect code name). */
  readonly rpcRequests: Counter<"service" | "method" | "code">;
  /** RPC duration in seconds (streams: until the stream ends), by service, method and code. */
  readonly rpcDuration: Histogram<"service" | "method" | "code">;
  /** Server streams currently open, by service and method. */
  readonly streamsOpen: Gauge<"service" | "method">;
}

/** Registers a gauge of open WatchCredentials streams, read from `count` at scrape time. */
export function registerWatcherGauge(registry: Registry, count: () => number): void {
  new Gauge({
    name: "nexus_watch_streams",
    help: "WatchCredentials streams currently subscribed in this process.",
    registers: [registry],
    collect() {
      this.set(count());
    },
  });
}

/** Audit writer figures as the metrics read them (see AuditWriterStats). */
export interface AuditMetricSource {
  depth: number;
  droppedTotal: number;
  refusedTotal: number;
  writeFailuresTotal: number;
}

/**
 * Registers the audit buffer's gauge and counters, read from `stats` at scrape time: a non-zero
 * nexus_audit_dropped_total means audit rows were lost and must be alerted on.
 */
export function registerAuditMetrics(registry: Registry, stats: () => AuditMetricSource): void {
  new Gauge({
    name: "nexus_audit_buffer_depth",
    help: "Audit events accepted and not yet written to the store.",
    registers: [registry],
    collect() {
      this.set(stats().depth);
    },
  });
  const counters = [
    ["nexus_audit_dropped_total", "Audit events never written (buffer full, or unwritten at shutdown).", "droppedTotal"],
    ["nexus_audit_refused_total", "Credential deliveries refused (Unavailable) because the audit buffer was full.", "refusedTotal"],
    ["nexus_audit_write_failures_total", "Audit batch writes that failed and were retried.", "writeFailuresTotal"],
  ] as const;
  for (const [name, help, key] of counters) {
    // A counter whose value lives in the writer: collect() sets it (prom-client has no "set" on Counter).
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(stats()[key]);
      },
    });
  }
}

/** Connection counters the listener feeds (see {@link registerConnectionMetrics}). */
export interface ConnectionMetrics {
  /** Connections refused on accept, by reason (max_connections, max_connections_per_address). */
  readonly rejected: Counter<"reason">;
  /** Connections the server closed on its own, by reason (first_byte_timeout, http2_idle, http2_ping_timeout). */
  readonly closed: Counter<"reason">;
}

/**
 * Registers the connection metrics: the two counters, and a gauge of open connections by protocol
 * ("sniffing" until the first bytes show it, then "http1" or "http2") read from `open` at scrape time.
 */
export function registerConnectionMetrics(
  registry: Registry,
  open: () => { sniffing: number; http1: number; http2: number },
): ConnectionMetrics {
  new Gauge({
    name: "nexus_connections_open",
    help: "TCP connections currently open, by protocol.",
    labelNames: ["protocol"],
    registers: [registry],
    collect() {
      const counts = open();
      this.set({ protocol: "sniffing" }, counts.sniffing);
      this.set({ protocol: "http1" }, counts.http1);
      this.set({ protocol: "http2" }, counts.http2);
    },
  });
  return {
    rejected: new Counter({
      name: "nexus_connections_rejected_total",
      help: "Connections refused on accept because a connection cap was reached, by reason.",
      labelNames: ["reason"],
      registers: [registry],
    }),
    closed: new Counter({
      name: "nexus_connections_closed_total",
      help: "Connections the server closed on its own (timeouts, dead peers), by reason.",
      labelNames: ["reason"],
      registers: [registry],
    }),
  };
}

/**
 * Registers the server metrics on `registry` (Node's default process metrics are registered
 * separately, after listen: `collectProcessMetrics`).
 */
export function createServerMetrics(registry: Registry): ServerMetrics {
  return {
    registry,
    rpcRequests: new Counter({
      name: "nexus_rpc_requests_total",
      help: "RPCs finished, by service, method and final code.",
      labelNames: ["service", "method", "code"],
      registers: [registry],
    }),
    rpcDuration: new Histogram({
      name: "nexus_rpc_duration_seconds",
      help: "RPC duration in seconds; for server streams, until the stream ends.",
      labelNames: ["service", "method", "code"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 300],
      registers: [registry],
    }),
    streamsOpen: new Gauge({
      name: "nexus_rpc_streams_open",
      help: "Server-streaming RPCs currently open.",
      labelNames: ["service", "method"],
      registers: [registry],
    }),
  };
}

/**
 * Registers the account-identity counter: attempts to learn a connection's provider account after
 * consent, by source (id_token, userinfo, account_lookup) and outcome (ok, failed). Returns the
 * function that counts one attempt.
 */
export function registerAccountLookupMetrics(registry: Registry): (attempt: { source: string; outcome: string }) => void {
  const counter = new Counter({
    name: "nexus_account_lookups_total",
    help: "Attempts to learn a connection's provider account after consent, by source and outcome (failures never fail the consent).",
    labelNames: ["source", "outcome"],
    registers: [registry],
  });
  return ({ source, outcome }) => counter.inc({ source, outcome });
}

/** Instruments of proxied calls (/v1/proxy), labelled by provider name and status class only. */
export interface ProxyMetrics {
  /** Proxied calls finished, by provider and status class ("2xx", "4xx", "5xx", or "error" when no status reached the caller). */
  readonly requests: Counter<"provider" | "status_class">;
  /** Duration of proxied calls in seconds, request start to the last response byte. */
  readonly duration: Histogram<"provider" | "status_class">;
  /** Body bytes passed through, by provider and direction ("in": to the provider, "out": back to the caller). */
  readonly bytes: Counter<"provider" | "direction">;
}

/** Registers the proxy's instruments on `registry`. */
export function createProxyMetrics(registry: Registry): ProxyMetrics {
  return {
    requests: new Counter({
      name: "nexus_proxy_requests_total",
      help: "Proxied calls finished, by provider and status class.",
      labelNames: ["provider", "status_class"] as const,
      registers: [registry],
    }),
    duration: new Histogram({
      name: "nexus_proxy_request_duration_seconds",
      help: "Duration of proxied calls, request start to the last response byte.",
      labelNames: ["provider", "status_class"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    bytes: new Counter({
      name: "nexus_proxy_body_bytes_total",
      help: "Body bytes passed through the proxy, by provider and direction (in: to the provider, out: to the caller).",
      labelNames: ["provider", "direction"] as const,
      registers: [registry],
    }),
  };
}
