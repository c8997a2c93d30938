/**
 * The one declaration of every tunable default and of the process clock. `loadConfig` builds the
 * configuration from these; factories that still need a default when a test or tool leaves a value
 * out import it from here instead of repeating a literal, so config and code cannot drift apart
 * (the watch heartbeat once was 15 s in config and 30 s in the hub). This module imports nothing.
 */

/**
 * The wall clock, epoch milliseconds: the only `Date.now` for domain time in server/. The app
 * threads it (or a test's fake clock) through the store, refresh, consent, keys and watch alike.
 */
export const systemNow: () => number = () => Date.now();

/** Longest wait for a PostgreSQL query's answer, ms (NEXUS_DATABASE_QUERY_TIMEOUT_MS). */
export const DEFAULT_DATABASE_QUERY_TIMEOUT_MS = 5_000;
/** Refresh an access token this long before it expires, ms (NEXUS_REFRESH_SKEW_MS). */
export const DEFAULT_REFRESH_SKEW_MS = 5 * 60 * 1000;
/** Refresh lease time, ms: short, because the holder renews it while it works (NEXUS_REFRESH_LEASE_MS). */
export const DEFAULT_REFRESH_LEASE_MS = 5_000;
/** Longest wait of a read of an expired token for its refresh, ms (NEXUS_REFRESH_READ_WAIT_MS). */
export const DEFAULT_REFRESH_READ_WAIT_MS = 2_000;
/**
 * Scheduled refreshes one process runs at once, and connections one scheduler tick claims
 * (NEXUS_REFRESH_CONCURRENCY). A refresh is a provider call (I/O-bound: ~100 ms spent waiting)
 * plus ~1 ms of CPU, so this bounds sockets and memory, not cores: 64 refreshes 10,000 tokens
 * due in the same minute in ~16 s against a 100 ms provider. A tick claims no more than it runs,
 * so no claimed lease waits in a queue without being renewed.
 */
export const DEFAULT_REFRESH_CONCURRENCY = 64;
/** SQLite database and development keyring directory, relative to the working directory (NEXUS_DATA_DIR). */
export const DEFAULT_DATA_DIR = "data";
/** Where Node caches compiled (and type-stripped) modules, under the data directory; `off` disables (NEXUS_COMPILE_CACHE_DIR). */
export const DEFAULT_COMPILE_CACHE_SUBDIR = "compile-cache";
/** How long after listening the compile cache is written to disk (also at a clean exit), ms. */
export const DEFAULT_COMPILE_CACHE_FLUSH_DELAY_MS = 5_000;

/**
 * How long after listen Node's default process metrics are registered (loading them takes ~30 ms
 * of CPU that would otherwise hold the first requests); a /metrics before that registers them first.
 */
export const DEFAULT_PROCESS_METRICS_DELAY_MS = 1_000;
/** Heartbeat period of watch streams, ms (NEXUS_WATCH_HEARTBEAT_MS). */
export const DEFAULT_WATCH_HEARTBEAT_MS = 15_000;
/**
 * How long connection events stay in the log, days (NEXUS_CONNECTION_EVENT_RETENTION_DAYS): a
 * WatchConnections client may resume from a cursor up to this old.
 */
export const DEFAULT_CONNECTION_EVENT_RETENTION_DAYS = 7;
/** How often the connection event log is pruned, ms. */
export const CONNECTION_EVENT_PRUNE_INTERVAL_MS = 60 * 60 * 1000;
/** Largest accepted request body, bytes, on every protocol and REST (NEXUS_MAX_BODY_BYTES). */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** How long in-flight requests may run at shutdown, ms (NEXUS_SHUTDOWN_GRACE_MS). */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;
/** How long a verified API key is reused without a store read, ms (NEXUS_API_KEY_CACHE_MS). */
export const DEFAULT_API_KEY_CACHE_MS = 5_000;
/** Connections open at once (NEXUS_MAX_CONNECTIONS). */
export const DEFAULT_MAX_CONNECTIONS = 10_000;
/** Connections open at once from one peer address (NEXUS_MAX_CONNECTIONS_PER_ADDRESS). */
export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 256;
/** HTTP/2 session idle timeout, ms (NEXUS_HTTP2_IDLE_TIMEOUT_MS). */
export const DEFAULT_HTTP2_IDLE_TIMEOUT_MS = 30_000;
/** HTTP/2 PING period while streams are open, ms (NEXUS_HTTP2_PING_INTERVAL_MS). */
export const DEFAULT_HTTP2_PING_INTERVAL_MS = 30_000;
/** HTTP/2 PING acknowledgement timeout, ms (NEXUS_HTTP2_PING_TIMEOUT_MS). */
export const DEFAULT_HTTP2_PING_TIMEOUT_MS = 20_000;
/** Largest proxied request body, bytes (NEXUS_PROXY_MAX_REQUEST_BYTES); it streams, never buffered whole. */
export const DEFAULT_PROXY_MAX_REQUEST_BYTES = 256 * 1024 * 1024;
/** Largest proxied response body, bytes (NEXUS_PROXY_MAX_RESPONSE_BYTES); it streams, never buffered whole. */
export const DEFAULT_PROXY_MAX_RESPONSE_BYTES = 1024 * 1024 * 1024;
/**
 * Largest proxied request body a strategy that signs the body (hmac_payload, aws_sigv4) may sign,
 * bytes (NEXUS_PROXY_MAX_SIGNED_BODY_BYTES): such a body is held in memory to sign it.
 */
export const DEFAULT_PROXY_MAX_SIGNED_BODY_BYTES = 10 * 1024 * 1024;
/** A proxied request body up to this size is held so a 401 can be retried after a refresh, bytes. */
export const DEFAULT_PROXY_REPLAY_BUFFER_BYTES = 64 * 1024;
/**
 * Calls remembered (per replica) as "401 even with a just-refreshed credential" (connection, credential version, method and
 * path): a repeat gets the 401 without another forced refresh, so an agent cannot drive one provider refresh per call.
 */
export const PROXY_FRESH_401_MEMORY = 10_000;
/** Proxy timeouts when a provider's profile sets none, ms: connect, first byte, idle, total. */
export const DEFAULT_PROXY_TIMEOUTS = { connectMs: 10_000, firstByteMs: 60_000, idleMs: 60_000, totalMs: 300_000 } as const;
/** Tenants whose rule-less agent keys may use the credential proxy: none (NEXUS_PROXY_OPEN_TENANTS). */
export const DEFAULT_PROXY_OPEN_TENANTS: readonly string[] = [];
/** Most labels one connection may carry (RequestConnection.labels) and one ListConnections filter may name. */
export const MAX_LABELS = 16;
/** Longest label key, characters. */
export const MAX_LABEL_KEY_LENGTH = 63;
/** Longest label value, characters. */
export const MAX_LABEL_VALUE_LENGTH = 256;
/** How long a failing webhook event is retried after its first failure before it goes on the failure list, ms (NEXUS_WEBHOOK_RETRY_WINDOW_MS). */
export const DEFAULT_WEBHOOK_RETRY_WINDOW_MS = 24 * 3600 * 1000;
/** Ceiling of the first webhook retry delay, doubling per attempt (full jitter), ms (NEXUS_WEBHOOK_BACKOFF_BASE_MS). */
export const DEFAULT_WEBHOOK_BACKOFF_BASE_MS = 10_000;
/** Largest webhook retry delay ceiling, ms (NEXUS_WEBHOOK_BACKOFF_MAX_MS). */
export const DEFAULT_WEBHOOK_BACKOFF_MAX_MS = 3600 * 1000;
/** Longest wait for a webhook receiver's TCP/TLS connection, ms (NEXUS_WEBHOOK_CONNECT_TIMEOUT_MS). */
export const DEFAULT_WEBHOOK_CONNECT_TIMEOUT_MS = 5_000;
/** Longest wait for one whole webhook attempt, ms (NEXUS_WEBHOOK_TIMEOUT_MS). */
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 15_000;
/** Most bytes of a webhook receiver's answer that are read, bytes. */
export const DEFAULT_WEBHOOK_MAX_RESPONSE_BYTES = 64 * 1024;
/** An endpoint's delivery lease, renewed before each request; must exceed the attempt timeout, ms (NEXUS_WEBHOOK_LEASE_MS). */
export const DEFAULT_WEBHOOK_LEASE_MS = 60_000;
/** How often the webhook worker looks for due endpoints besides being woken, ms (NEXUS_WEBHOOK_POLL_INTERVAL_MS). */
export const DEFAULT_WEBHOOK_POLL_INTERVAL_MS = 2_000;
/** How long a rotated-out webhook secret keeps signing, ms (NEXUS_WEBHOOK_SECRET_OVERLAP_MS; RotateWebhookSecret may choose). */
export const DEFAULT_WEBHOOK_SECRET_OVERLAP_MS = 24 * 3600 * 1000;
