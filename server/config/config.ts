/**
 * Typed, validated server configuration. This module is the only place that reads process.env
 * (through `loadConfig(env)`, which takes the environment as an argument so tests pass their own).
 * It never logs values: some of them are keys.
 */
import net from "node:net";
import path from "node:path";
import { z } from "zod";
import {
  DEFAULT_API_KEY_CACHE_MS,
  DEFAULT_CONNECTION_EVENT_RETENTION_DAYS,
  DEFAULT_DATA_DIR,
  DEFAULT_DATABASE_QUERY_TIMEOUT_MS,
  DEFAULT_HTTP2_IDLE_TIMEOUT_MS,
  DEFAULT_HTTP2_PING_INTERVAL_MS,
  DEFAULT_HTTP2_PING_TIMEOUT_MS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
  DEFAULT_PROXY_MAX_REQUEST_BYTES,
  DEFAULT_PROXY_MAX_RESPONSE_BYTES,
  DEFAULT_PROXY_MAX_SIGNED_BODY_BYTES,
  DEFAULT_PROXY_OPEN_TENANTS,
  DEFAULT_REFRESH_CONCURRENCY,
  DEFAULT_REFRESH_LEASE_MS,
  DEFAULT_REFRESH_READ_WAIT_MS,
  DEFAULT_REFRESH_SKEW_MS,
  DEFAULT_SHUTDOWN_GRACE_MS,
  DEFAULT_WATCH_HEARTBEAT_MS,
  DEFAULT_WEBHOOK_BACKOFF_BASE_MS,
  DEFAULT_WEBHOOK_BACKOFF_MAX_MS,
  DEFAULT_WEBHOOK_CONNECT_TIMEOUT_MS,
  DEFAULT_WEBHOOK_LEASE_MS,
  DEFAULT_WEBHOOK_POLL_INTERVAL_MS,
  DEFAULT_WEBHOOK_RETRY_WINDOW_MS,
  DEFAULT_WEBHOOK_SECRET_OVERLAP_MS,
  DEFAULT_WEBHOOK_TIMEOUT_MS,
} from "./defaults.ts";
import { createReturnUrlPolicy, DEV_RETURN_URL_ORIGINS } from "./return-url-policy.ts";

/** The validated configuration of one server instance. */
export interface Config {
  /** "development" (default: generates missing keys) or "production" (refuses to start without them). */
  mode: "development" | "production";
  /** TCP port to listen on; 0 picks a free one. */
  port: number;
  /** Interface to bind. */
  host: string;
  /** Absolute path of the data directory (SQLite database, generated development keys). */
  dataDir: string;
  /**
   * PostgreSQL connection string (DATABASE_URL): when set, storage is PostgreSQL and several
   * replicas may share it; otherwise SQLite in dataDir. May hold a password: never log it.
   */
  databaseUrl: string | undefined;
  /**
   * Longest wait for a PostgreSQL query's answer, ms (the server cancels the statement 1 s earlier):
   * a silent database answers `unavailable` after this instead of hanging.
   */
  databaseQueryTimeoutMs: number;
  /** Base URL at which browsers and agents reach this server (used in authUrl and callbacks). */
  publicUrl: string | undefined;
  /** pino log level. */
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** Encryption keyring from NEXUS_ENCRYPTION_KEYS, or undefined to load/generate it in dataDir. */
  encryptionKeys: string | undefined;
  /**
   * Origins a consent may return to (`https://app.example.com`, `http://localhost:*`). Development
   * default: localhost on any port; production default: none (every return_url is refused).
   */
  returnUrlOrigins: readonly string[];
  /**
   * Tenants whose agent keys without proxy rules may send any call through the credential proxy
   * ("*": every tenant). Keys with rules are held to them regardless. Default: none.
   */
  proxyOpenTenants: readonly string[];
  /** Refresh an OAuth access token this long before it expires (on read and proactively), ms. */
  refreshSkewMs: number;
  /**
   * How long a replica's refresh lease lasts without renewal, ms (the holder renews it every 30 %
   * of this while its refresh runs): after a crash, other replicas take over within this long.
   */
  refreshLeaseMs: number;
  /** Longest wait of a token read whose access token has expired, for its refresh, ms; then `unavailable`. */
  refreshReadWaitMs: number;
  /** Scheduled refreshes run at once per process, and connections claimed per scheduler tick. */
  refreshConcurrency: number;
  /** Heartbeat period of WatchCredentials streams, ms (keeps idle streams alive through proxies). */
  watchHeartbeatMs: number;
  /** Largest accepted request body, in bytes (Connect, gRPC and REST alike). */
  maxBodyBytes: number;
  /** How long a graceful shutdown waits for in-flight requests, in milliseconds. */
  shutdownGraceMs: number;
  /** Largest proxied request body, bytes (/v1/proxy; streamed, not buffered). */
  proxyMaxRequestBytes: number;
  /** Largest proxied response body, bytes (streamed, not buffered). */
  proxyMaxResponseBytes: number;
  /** Largest proxied body an hmac_payload or aws_sigv4 provider may sign (held in memory), bytes. */
  proxyMaxSignedBodyBytes: number;
  /**
   * The admin API key whose hash is ensured at start (NEXUS_ADMIN_API_KEY). Required in production;
   * in development, absent means "create and print a bootstrap admin key on first start".
   */
  adminApiKey: string | undefined;
  /** How long a verified API key is trusted without re-reading the store, in ms (0: always re-read). */
  apiKeyCacheMs: number;
  /** Proxies (IPs or CIDRs) whose X-Forwarded-For is believed; empty: the socket peer is the client. */
  trustedProxies: readonly string[];
  /** Bearer token /metrics requires; undefined leaves /metrics open (bind it to a private interface). */
  metricsToken: string | undefined;
  /** Audit events older than this many days are deleted (hourly). */
  auditRetentionDays: number;
  /** Connection events (WatchConnections) older than this many days are deleted (hourly). */
  connectionEventRetentionDays: number;
  /** Sustained requests per second each API key may make (token bucket refill rate). */
  rateLimitPerSecond: number;
  /** Requests an API key may make at once before the sustained rate applies (bucket size). */
  rateLimitBurst: number;
  /** Server-streaming RPCs one API key may hold open at once. */
  maxStreamsPerKey: number;
  /** Streams without an API key (health Watch) one client address (IPv6: /64) may hold open at once. */
  maxAnonymousStreamsPerAddress: number;
  /** TCP connections open at once, all clients together; more are refused on accept. */
  maxConnections: number;
  /** TCP connections open at once from one peer address (IPv6: /64); trusted proxies are exempt. */
  maxConnectionsPerAddress: number;
  /** An HTTP/2 session with no open stream for this long is closed with GOAWAY, ms. */
  http2IdleTimeoutMs: number;
  /** While an HTTP/2 session has open streams, the peer is PINGed this often, ms. */
  http2PingIntervalMs: number;
  /** An HTTP/2 PING not acked within this closes the session (dead peer), ms. */
  http2PingTimeoutMs: number;
  /** Browser origins allowed to call the API cross-origin (exact origins); empty: none. */
  corsOrigins: readonly string[];
  /** Webhook delivery: target rules, retries, limits (see server/webhooks/). */
  webhooks: WebhookConfig;
}

/** Webhook settings. */
export interface WebhookConfig {
  /** Whether http:// endpoint URLs are accepted (default false: https only). */
  isHttpAllowed: boolean;
  /** CIDRs admitted although not public (loopback, private …); default none. */
  allowedCidrs: readonly string[];
  /** How long a failing event is retried after its first failure, ms. */
  retryWindowMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  connectTimeoutMs: number;
  /** One whole attempt, ms. */
  timeoutMs: number;
  /** An endpoint's delivery lease, ms (greater than timeoutMs). */
  leaseMs: number;
  pollIntervalMs: number;
  /** Default overlap of a rotated-out secret, ms. */
  secretOverlapMs: number;
}

/** A configuration problem, with every offending variable listed. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.problems = problems;
  }
}

const integer = (name: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `${name} must be a whole number`)
    .transform(Number)
    .pipe(z.number().int().min(min, `${name} must be at least ${min}`).max(max, `${name} must be at most ${max}`));

const envSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).optional(),
  PORT: integer("PORT", 0, 65535).optional(),
  NEXUS_HOST: z.string().min(1).optional(),
  NEXUS_DATA_DIR: z.string().min(1, "NEXUS_DATA_DIR must not be empty").optional(),
  DATABASE_URL: z
    .string()
    .refine((v) => /^postgres(ql)?:\/\/./.test(v), "DATABASE_URL must be a postgres:// or postgresql:// URL")
    .optional(),
  NEXUS_DATABASE_QUERY_TIMEOUT_MS: integer("NEXUS_DATABASE_QUERY_TIMEOUT_MS", 1000, 600_000).optional(),
  NEXUS_PUBLIC_URL: z.url({ protocol: /^https?$/, message: "NEXUS_PUBLIC_URL must be an absolute http(s) URL" }).optional(),
  NEXUS_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).optional(),
  NEXUS_ENCRYPTION_KEYS: z.string().min(1).optional(),
  NEXUS_RETURN_URL_ORIGINS: z.string().optional(),
  NEXUS_PROXY_OPEN_TENANTS: z.string().optional(),
  NEXUS_REFRESH_SKEW_MS: integer("NEXUS_REFRESH_SKEW_MS", 0, 24 * 3600 * 1000).optional(),
  NEXUS_REFRESH_LEASE_MS: integer("NEXUS_REFRESH_LEASE_MS", 1000, 600_000).optional(),
  NEXUS_REFRESH_READ_WAIT_MS: integer("NEXUS_REFRESH_READ_WAIT_MS", 0, 60_000).optional(),
  NEXUS_REFRESH_CONCURRENCY: integer("NEXUS_REFRESH_CONCURRENCY", 1, 1024).optional(),
  NEXUS_WATCH_HEARTBEAT_MS: integer("NEXUS_WATCH_HEARTBEAT_MS", 1000, 3600 * 1000).optional(),
  NEXUS_MAX_BODY_BYTES: integer("NEXUS_MAX_BODY_BYTES", 1024, 64 * 1024 * 1024).optional(),
  NEXUS_SHUTDOWN_GRACE_MS: integer("NEXUS_SHUTDOWN_GRACE_MS", 0, 600_000).optional(),
  NEXUS_PROXY_MAX_REQUEST_BYTES: integer("NEXUS_PROXY_MAX_REQUEST_BYTES", 0, 64 * 1024 * 1024 * 1024).optional(),
  NEXUS_PROXY_MAX_RESPONSE_BYTES: integer("NEXUS_PROXY_MAX_RESPONSE_BYTES", 0, 64 * 1024 * 1024 * 1024).optional(),
  NEXUS_PROXY_MAX_SIGNED_BODY_BYTES: integer("NEXUS_PROXY_MAX_SIGNED_BODY_BYTES", 0, 1024 * 1024 * 1024).optional(),
  NEXUS_ADMIN_API_KEY: z
    .string()
    .regex(/^[\x21-\x7e]{32,512}$/, "NEXUS_ADMIN_API_KEY must be 32-512 printable characters without spaces")
    .optional(),
  NEXUS_API_KEY_CACHE_MS: integer("NEXUS_API_KEY_CACHE_MS", 0, 60_000).optional(),
  NEXUS_TRUSTED_PROXIES: z.string().optional(),
  NEXUS_METRICS_TOKEN: z
    .string()
    .regex(/^[\x21-\x7e]{16,512}$/, "NEXUS_METRICS_TOKEN must be 16-512 printable characters without spaces")
    .optional(),
  NEXUS_AUDIT_RETENTION_DAYS: integer("NEXUS_AUDIT_RETENTION_DAYS", 1, 36_500).optional(),
  NEXUS_CONNECTION_EVENT_RETENTION_DAYS: integer("NEXUS_CONNECTION_EVENT_RETENTION_DAYS", 1, 3_650).optional(),
  NEXUS_RATE_LIMIT_PER_SECOND: integer("NEXUS_RATE_LIMIT_PER_SECOND", 1, 1_000_000).optional(),
  NEXUS_RATE_LIMIT_BURST: integer("NEXUS_RATE_LIMIT_BURST", 1, 1_000_000).optional(),
  NEXUS_MAX_STREAMS_PER_KEY: integer("NEXUS_MAX_STREAMS_PER_KEY", 1, 100_000).optional(),
  NEXUS_MAX_ANONYMOUS_STREAMS_PER_ADDRESS: integer("NEXUS_MAX_ANONYMOUS_STREAMS_PER_ADDRESS", 1, 100_000).optional(),
  NEXUS_MAX_CONNECTIONS: integer("NEXUS_MAX_CONNECTIONS", 1, 1_000_000).optional(),
  NEXUS_MAX_CONNECTIONS_PER_ADDRESS: integer("NEXUS_MAX_CONNECTIONS_PER_ADDRESS", 1, 1_000_000).optional(),
  NEXUS_HTTP2_IDLE_TIMEOUT_MS: integer("NEXUS_HTTP2_IDLE_TIMEOUT_MS", 1000, 3600 * 1000).optional(),
  NEXUS_HTTP2_PING_INTERVAL_MS: integer("NEXUS_HTTP2_PING_INTERVAL_MS", 1000, 3600 * 1000).optional(),
  NEXUS_HTTP2_PING_TIMEOUT_MS: integer("NEXUS_HTTP2_PING_TIMEOUT_MS", 1000, 600_000).optional(),
  NEXUS_CORS_ORIGINS: z.string().optional(),
  NEXUS_WEBHOOK_ALLOW_HTTP: z.enum(["true", "false"], "NEXUS_WEBHOOK_ALLOW_HTTP must be true or false").optional(),
  NEXUS_WEBHOOK_ALLOWED_CIDRS: z.string().optional(),
  NEXUS_WEBHOOK_RETRY_WINDOW_MS: integer("NEXUS_WEBHOOK_RETRY_WINDOW_MS", 0, 30 * 24 * 3600 * 1000).optional(),
  NEXUS_WEBHOOK_BACKOFF_BASE_MS: integer("NEXUS_WEBHOOK_BACKOFF_BASE_MS", 1, 3600 * 1000).optional(),
  NEXUS_WEBHOOK_BACKOFF_MAX_MS: integer("NEXUS_WEBHOOK_BACKOFF_MAX_MS", 1, 24 * 3600 * 1000).optional(),
  NEXUS_WEBHOOK_CONNECT_TIMEOUT_MS: integer("NEXUS_WEBHOOK_CONNECT_TIMEOUT_MS", 100, 60_000).optional(),
  NEXUS_WEBHOOK_TIMEOUT_MS: integer("NEXUS_WEBHOOK_TIMEOUT_MS", 100, 120_000).optional(),
  NEXUS_WEBHOOK_LEASE_MS: integer("NEXUS_WEBHOOK_LEASE_MS", 500, 600_000).optional(),
  NEXUS_WEBHOOK_POLL_INTERVAL_MS: integer("NEXUS_WEBHOOK_POLL_INTERVAL_MS", 10, 600_000).optional(),
  NEXUS_WEBHOOK_SECRET_OVERLAP_MS: integer("NEXUS_WEBHOOK_SECRET_OVERLAP_MS", 0, 7 * 24 * 3600 * 1000).optional(),
});

/** Splits a comma-separated list, dropping blanks. */
const list = (value: string | undefined): string[] =>
  value === undefined
    ? []
    : value
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "");

/**
 * Reads and validates the configuration from an environment map.
 *
 * @throws ConfigError listing every invalid variable, so an operator fixes them in one go.
 * @example loadConfig(process.env)
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>, cwd = process.cwd()): Config {
  // Empty strings are "unset": `PORT= npm start` should not fail on PORT.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  }
  const e = parsed.data;
  const mode = e.NODE_ENV === "production" ? "production" : "development";
  const problems: string[] = [];
  if (mode === "production" && !e.NEXUS_ENCRYPTION_KEYS) {
    problems.push("NEXUS_ENCRYPTION_KEYS: required when NODE_ENV=production (generate one with `npm run nexus -- keys generate`)");
  }
  const returnUrlOrigins =
    e.NEXUS_RETURN_URL_ORIGINS !== undefined
      ? e.NEXUS_RETURN_URL_ORIGINS.split(",")
          .map((s) => s.trim())
          .filter((s) => s !== "")
      : mode === "development"
        ? DEV_RETURN_URL_ORIGINS
        : [];
  try {
    createReturnUrlPolicy(returnUrlOrigins);
  } catch (err) {
    problems.push(`NEXUS_RETURN_URL_ORIGINS: ${(err as Error).message}`);
  }
  const trustedProxies = list(e.NEXUS_TRUSTED_PROXIES);
  for (const entry of trustedProxies) {
    if (!isAddressOrCidr(entry)) problems.push(`NEXUS_TRUSTED_PROXIES: "${entry.slice(0, 64)}" is not an IP address or CIDR`);
  }
  const proxyOpenTenants = e.NEXUS_PROXY_OPEN_TENANTS === undefined ? DEFAULT_PROXY_OPEN_TENANTS : list(e.NEXUS_PROXY_OPEN_TENANTS);
  for (const tenant of proxyOpenTenants) {
    if (tenant !== "*" && !/^[A-Za-z0-9_-]{1,128}$/.test(tenant)) {
      problems.push(`NEXUS_PROXY_OPEN_TENANTS: "${tenant.slice(0, 64)}" is not a tenant id or "*"`);
    }
  }
  const corsOrigins = list(e.NEXUS_CORS_ORIGINS);
  for (const origin of corsOrigins) {
    if (!isOrigin(origin)) {
      problems.push(`NEXUS_CORS_ORIGINS: "${origin.slice(0, 100)}" is not an origin like https://app.example.com`);
    }
  }
  const webhookCidrs = list(e.NEXUS_WEBHOOK_ALLOWED_CIDRS).map((entry) =>
    entry.includes("/") ? entry : `${entry}/${net.isIPv6(entry) ? 128 : 32}`,
  );
  for (const entry of webhookCidrs) {
    if (!isAddressOrCidr(entry)) problems.push(`NEXUS_WEBHOOK_ALLOWED_CIDRS: "${entry.slice(0, 64)}" is not an IP address or CIDR`);
  }
  const webhookTimeoutMs = e.NEXUS_WEBHOOK_TIMEOUT_MS ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
  const webhookLeaseMs = e.NEXUS_WEBHOOK_LEASE_MS ?? Math.max(DEFAULT_WEBHOOK_LEASE_MS, 2 * webhookTimeoutMs);
  if (webhookLeaseMs <= webhookTimeoutMs) {
    problems.push("NEXUS_WEBHOOK_LEASE_MS: must be greater than NEXUS_WEBHOOK_TIMEOUT_MS (the lease must outlast one attempt)");
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const rateLimitPerSecond = e.NEXUS_RATE_LIMIT_PER_SECOND ?? 50;
  return {
    mode,
    port: e.PORT ?? 8080,
    host: e.NEXUS_HOST ?? "127.0.0.1",
    dataDir: path.resolve(cwd, e.NEXUS_DATA_DIR ?? DEFAULT_DATA_DIR),
    databaseUrl: e.DATABASE_URL,
    databaseQueryTimeoutMs: e.NEXUS_DATABASE_QUERY_TIMEOUT_MS ?? DEFAULT_DATABASE_QUERY_TIMEOUT_MS,
    publicUrl: e.NEXUS_PUBLIC_URL?.replace(/\/+$/, ""),
    logLevel: e.NEXUS_LOG_LEVEL ?? (e.NODE_ENV === "test" ? "silent" : "info"),
    encryptionKeys: e.NEXUS_ENCRYPTION_KEYS,
    returnUrlOrigins,
    proxyOpenTenants,
    refreshSkewMs: e.NEXUS_REFRESH_SKEW_MS ?? DEFAULT_REFRESH_SKEW_MS,
    refreshLeaseMs: e.NEXUS_REFRESH_LEASE_MS ?? DEFAULT_REFRESH_LEASE_MS,
    refreshReadWaitMs: e.NEXUS_REFRESH_READ_WAIT_MS ?? DEFAULT_REFRESH_READ_WAIT_MS,
    refreshConcurrency: e.NEXUS_REFRESH_CONCURRENCY ?? DEFAULT_REFRESH_CONCURRENCY,
    watchHeartbeatMs: e.NEXUS_WATCH_HEARTBEAT_MS ?? DEFAULT_WATCH_HEARTBEAT_MS,
    maxBodyBytes: e.NEXUS_MAX_BODY_BYTES ?? DEFAULT_MAX_BODY_BYTES,
    shutdownGraceMs: e.NEXUS_SHUTDOWN_GRACE_MS ?? DEFAULT_SHUTDOWN_GRACE_MS,
    proxyMaxRequestBytes: e.NEXUS_PROXY_MAX_REQUEST_BYTES ?? DEFAULT_PROXY_MAX_REQUEST_BYTES,
    proxyMaxResponseBytes: e.NEXUS_PROXY_MAX_RESPONSE_BYTES ?? DEFAULT_PROXY_MAX_RESPONSE_BYTES,
    proxyMaxSignedBodyBytes: e.NEXUS_PROXY_MAX_SIGNED_BODY_BYTES ?? DEFAULT_PROXY_MAX_SIGNED_BODY_BYTES,
    adminApiKey: e.NEXUS_ADMIN_API_KEY,
    apiKeyCacheMs: e.NEXUS_API_KEY_CACHE_MS ?? DEFAULT_API_KEY_CACHE_MS,
    trustedProxies,
    metricsToken: e.NEXUS_METRICS_TOKEN,
    auditRetentionDays: e.NEXUS_AUDIT_RETENTION_DAYS ?? 90,
    connectionEventRetentionDays: e.NEXUS_CONNECTION_EVENT_RETENTION_DAYS ?? DEFAULT_CONNECTION_EVENT_RETENTION_DAYS,
    rateLimitPerSecond,
    rateLimitBurst: e.NEXUS_RATE_LIMIT_BURST ?? Math.max(100, rateLimitPerSecond * 2),
    maxStreamsPerKey: e.NEXUS_MAX_STREAMS_PER_KEY ?? 32,
    maxAnonymousStreamsPerAddress: e.NEXUS_MAX_ANONYMOUS_STREAMS_PER_ADDRESS ?? 32,
    maxConnections: e.NEXUS_MAX_CONNECTIONS ?? DEFAULT_MAX_CONNECTIONS,
    maxConnectionsPerAddress: e.NEXUS_MAX_CONNECTIONS_PER_ADDRESS ?? DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
    http2IdleTimeoutMs: e.NEXUS_HTTP2_IDLE_TIMEOUT_MS ?? DEFAULT_HTTP2_IDLE_TIMEOUT_MS,
    http2PingIntervalMs: e.NEXUS_HTTP2_PING_INTERVAL_MS ?? DEFAULT_HTTP2_PING_INTERVAL_MS,
    http2PingTimeoutMs: e.NEXUS_HTTP2_PING_TIMEOUT_MS ?? DEFAULT_HTTP2_PING_TIMEOUT_MS,
    corsOrigins,
    webhooks: {
      isHttpAllowed: e.NEXUS_WEBHOOK_ALLOW_HTTP === "true",
      allowedCidrs: webhookCidrs,
      retryWindowMs: e.NEXUS_WEBHOOK_RETRY_WINDOW_MS ?? DEFAULT_WEBHOOK_RETRY_WINDOW_MS,
      backoffBaseMs: e.NEXUS_WEBHOOK_BACKOFF_BASE_MS ?? DEFAULT_WEBHOOK_BACKOFF_BASE_MS,
      backoffMaxMs: e.NEXUS_WEBHOOK_BACKOFF_MAX_MS ?? DEFAULT_WEBHOOK_BACKOFF_MAX_MS,
      connectTimeoutMs: e.NEXUS_WEBHOOK_CONNECT_TIMEOUT_MS ?? DEFAULT_WEBHOOK_CONNECT_TIMEOUT_MS,
      timeoutMs: webhookTimeoutMs,
      leaseMs: webhookLeaseMs,
      pollIntervalMs: e.NEXUS_WEBHOOK_POLL_INTERVAL_MS ?? DEFAULT_WEBHOOK_POLL_INTERVAL_MS,
      secretOverlapMs: e.NEXUS_WEBHOOK_SECRET_OVERLAP_MS ?? DEFAULT_WEBHOOK_SECRET_OVERLAP_MS,
    },
  };
}

/**
 * Checks what only a serving process needs (CLI commands such as `keys rotate` don't): production
 * refuses to start without NEXUS_ADMIN_API_KEY, since there is no console to print a bootstrap key to.
 * @throws ConfigError
 */
export function checkServerConfig(config: Config): void {
  if (config.mode === "production" && config.adminApiKey === undefined) {
    throw new ConfigError([
      "NEXUS_ADMIN_API_KEY: required when NODE_ENV=production (at least 32 random characters, e.g. " +
        "`node -e \"console.log('nxk_'+require('crypto').randomBytes(32).toString('base64url'))\"`); " +
        "its SHA-256 is stored at start and it works as an admin key",
    ]);
  }
}

function isAddressOrCidr(entry: string): boolean {
  const [address = "", bits, ...rest] = entry.split("/");
  const family = net.isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

function isOrigin(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return (url.protocol === "https:" || url.protocol === "http:") && url.origin === value;
}
