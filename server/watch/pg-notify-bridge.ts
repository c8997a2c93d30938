/**
 * Cross-replica fan-out over PostgreSQL LISTEN/NOTIFY. `publish` delivers to this process's hub at
 * once and NOTIFYs the other replicas with our origin id (our own notifications are skipped on
 * arrival, so local watchers neither wait for the database nor see an event twice). One dedicated
 * `pg.Client` LISTENs; when it drops it reconnects with backoff and then tells every local watcher
 * to resync, since notifications sent meanwhile are lost. A silent partition sends no reset, so a
 * liveness query every 2 s (answer within 2 s) notices it; every wait (connect, query, close) is
 * bounded as in the store's pool. Payloads are ids and versions, no secrets.
 * API key revocations travel on the same channel (`announceKeyRevoked`), so a key revoked on one
 * replica ends its streams on every replica, and so do connection-event wake-ups
 * (`announceConnectionEvents`: "tenant T's event log grew"; the events themselves are read from the
 * shared table, so a lost wake-up only delays them until the next heartbeat or resync).
 */
import { setTimeout as delay } from "node:timers/promises";
import { Client, type Notification, Pool } from "pg";
import { isConnectionStatus } from "../domain/connection-status.ts";
import type { Logger } from "../logging/logger.ts";
import { type BackoffOptions, retryDelayMs } from "../refresh/backoff.ts";
import { boundedClientConfig, settlesWithin, trackedSockets } from "../store/postgres/store-pool.ts";
import type { ConnectionEvent, WatchHub } from "./watch-hub.ts";

/** Default channel name. */
export const DEFAULT_NOTIFY_CHANNEL = "nexus_credentials";

/** PostgreSQL drops a NOTIFY payload of 8000 bytes or more; stay below with room to spare. */
const MAX_PAYLOAD_BYTES = 7_900;

/** Longest wait for a new connection: a black-holed database costs seconds, then the next attempt. */
const CONNECT_TIMEOUT_MS = 5_000;

/** At close, how long connections get to say goodbye before their sockets are destroyed, ms. */
const CLOSE_GRACE_MS = 2_000;

/** An API key event as published: the key was revoked, so its open streams must end everywhere. */
export interface ApiKeyRevokedEvent {
  type: "api_key_revoked";
  keyId: string;
}

/** A connection-event wake-up as published: the tenant's event log grew (read it from the table). */
export interface ConnectionEventsAppendedEvent {
  type: "connection_events";
  tenantId: string;
}

/** Options of `createPgNotifyBridge`. */
export interface PgNotifyBridgeOptions {
  /** libpq-style URL of the database every replica shares. */
  connectionString: string;
  hub: Pick<WatchHub, "publish" | "resync">;
  /** This replica's id, unique per process (e.g. the refresh lease owner). */
  originId: string;
  logger: Logger;
  /** Told about key revocations announced by other replicas (not our own). */
  onKeyRevoked?: (keyId: string) => void;
  /** Told when another replica appended connection events of a tenant (not our own). */
  onConnectionEvents?: (tenantId: string) => void;
  /** Uniform in [0, 1): reconnect jitter. */
  random: () => number;
  /** Channel: a lower-case SQL identifier. Default "nexus_credentials". */
  channel?: string;
  /** Reconnect delays; defaults base 250 ms, max 2 s (back within 2 s of the database), min 50 ms. */
  reconnect?: BackoffOptions;
  /**
   * Pause between liveness queries on the LISTEN connection, and the longest wait for each answer,
   * ms: a silent drop is noticed within twice this. 0 off. Default 2000.
   */
  healthCheckMs?: number;
  /** Longest wait for a NOTIFY or LISTEN answer, ms. Default 5000. */
  queryTimeoutMs?: number;
  /** Waits `ms`, rejecting when `signal` aborts. Default node:timers/promises setTimeout. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** The running bridge. */
export interface PgNotifyBridge {
  /** Connects and LISTENs; rejects when that first attempt fails (later drops reconnect on their own). */
  start(): Promise<void>;
  /** Delivers locally at once, then notifies the other replicas; never rejects (failures are logged). */
  publish(event: ConnectionEvent): Promise<void>;
  /** Notifies the other replicas that `keyId` was revoked (the caller applied it here); never rejects. */
  announceKeyRevoked(keyId: string): Promise<void>;
  /** Notifies the other replicas that the tenant's connection event log grew (after the commit); never rejects. */
  announceConnectionEvents(tenantId: string): Promise<void>;
  /** Whether the LISTEN connection is up. */
  isListening(): boolean;
  /** Stops listening and reconnecting, and closes both database connections. */
  close(): Promise<void>;
}

/** Creates a stopped bridge. */
export function createPgNotifyBridge(options: PgNotifyBridgeOptions): PgNotifyBridge {
  const { hub, originId, logger } = options;
  const channel = options.channel ?? DEFAULT_NOTIFY_CHANNEL;
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new Error(`notify channel "${channel}" is not a lower-case SQL identifier`);
  const reconnect = { baseMs: 250, maxMs: 2_000, minMs: 50, ...options.reconnect };
  const healthCheckMs = options.healthCheckMs ?? 2_000;
  const bounds = boundedClientConfig({
    connectionString: options.connectionString,
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    queryTimeoutMs: options.queryTimeoutMs,
  });
  // Every socket either connection uses: what a partition leaves open is destroyed at close.
  const sockets = trackedSockets();
  const sleep = options.sleep ?? ((ms: number, signal: AbortSignal) => delay(ms, undefined, { signal }));
  const stopping = new AbortController();
  const notifier = new Pool({ ...bounds, max: 2, application_name: "nexus-notify", stream: sockets.stream });
  const onNotifierError = (error: Error) => logger.warn({ err: error }, "notify connection failed");
  notifier.on("error", onNotifierError);
  // pg-pool only listens on idle clients; one that drops while checked out would crash the process.
  notifier.on("connect", (client) => client.on("error", onNotifierError));
  let listener: Client | undefined;
  let reconnecting: Promise<void> | undefined;
  let health: NodeJS.Timeout | undefined;
  let isHealthCheckOn = false;
  let closing: Promise<void> | undefined;

  const onNotification = (message: Notification) => {
    if (message.channel !== channel || message.payload === undefined) return;
    const parsed = parsePayload(message.payload);
    if (!parsed) {
      logger.warn({ channel }, "ignored a malformed credential notification");
      return;
    }
    if (parsed.origin === originId) return;
    if (parsed.event.type === "api_key_revoked") options.onKeyRevoked?.(parsed.event.keyId);
    else if (parsed.event.type === "connection_events") options.onConnectionEvents?.(parsed.event.tenantId);
    else hub.publish(parsed.event);
  };

  async function connectListener(): Promise<void> {
    const client = new Client({ ...bounds, application_name: "nexus-listen", stream: sockets.stream });
    // Whichever comes first (error, end) marks this client dead; later events of a dead client are ignored.
    const onLost = (error?: Error) => lost(client, error);
    client.on("error", onLost);
    client.on("end", () => onLost());
    client.on("notification", onNotification);
    try {
      await client.connect();
      await client.query(`LISTEN ${channel}`);
    } catch (error) {
      // The connect or LISTEN error is what matters; ending a half-open client can fail too.
      await client.end().catch(() => undefined);
      throw error;
    }
    if (stopping.signal.aborted) {
      await client.end();
      return;
    }
    listener = client;
  }

  function lost(client: Client, error?: Error): void {
    if (listener !== client) return;
    listener = undefined;
    // Frees the socket of a client that already failed; its own error was the news.
    client.end().catch(() => undefined);
    if (stopping.signal.aborted) return;
    logger.warn({ err: error }, "LISTEN connection lost; reconnecting");
    reconnecting ??= reconnectLoop().finally(() => {
      reconnecting = undefined;
    });
  }

  async function reconnectLoop(): Promise<void> {
    for (let attempt = 1; !stopping.signal.aborted; attempt += 1) {
      try {
        await sleep(retryDelayMs(attempt, reconnect, options.random), stopping.signal);
        await connectListener();
        if (stopping.signal.aborted) return;
        logger.info({ attempt }, "LISTEN connection restored; watchers resync");
        // Notifications sent while we were away are gone: every local watcher re-reads.
        hub.resync();
        return;
      } catch (error) {
        if (stopping.signal.aborted) return;
        logger.warn({ err: error, attempt }, "LISTEN reconnect failed");
      }
    }
  }

  /** One liveness query at a time, `healthCheckMs` apart; no answer within `healthCheckMs` is a loss. */
  function scheduleHealthCheck(): void {
    if (healthCheckMs <= 0 || stopping.signal.aborted) return;
    isHealthCheckOn = true;
    health = setTimeout(() => {
      const client = listener;
      if (!client) return scheduleHealthCheck();
      // A query still active when given up on makes lost()'s end() destroy the socket, not wait on it.
      let timer: NodeJS.Timeout | undefined;
      const silent = new Promise<never>(
        (_, reject) => (timer = setTimeout(() => reject(new Error("liveness query timed out")), healthCheckMs)),
      );
      Promise.race([client.query("select 1"), silent])
        .catch((error: unknown) => lost(client, error instanceof Error ? error : new Error(String(error))))
        .finally(() => {
          clearTimeout(timer);
          scheduleHealthCheck();
        });
    }, healthCheckMs);
    health.unref();
  }

  async function notify(message: Record<string, unknown>, ids: Record<string, string>): Promise<void> {
    const payload = JSON.stringify(message);
    if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) {
      logger.error(ids, "notification too large; other replicas will not see it");
      return;
    }
    try {
      await notifier.query("select pg_notify($1, $2)", [channel, payload]);
    } catch (error) {
      // Missed key revocations are caught by the periodic key re-check (server/auth/api-key-liveness.ts).
      logger.warn({ err: error, ...ids }, "NOTIFY failed; other replicas resync when their connection recovers");
    }
  }

  return {
    async start() {
      await connectListener();
      if (!isHealthCheckOn) scheduleHealthCheck();
    },

    async publish(event) {
      hub.publish(event);
      await notify({ origin: originId, ...event }, { connectionId: event.connectionId.slice(0, 64) });
    },

    announceKeyRevoked: (keyId) => notify({ origin: originId, type: "api_key_revoked", keyId }, { keyId: keyId.slice(0, 64) }),

    announceConnectionEvents: (tenantId) =>
      notify({ origin: originId, type: "connection_events", tenantId }, { tenantId: tenantId.slice(0, 64) }),

    isListening: () => listener !== undefined,

    close() {
      closing ??= (async () => {
        stopping.abort();
        if (health) clearTimeout(health);
        await reconnecting;
        const client = listener;
        listener = undefined;
        // A partitioned database never answers the goodbye: after the grace, destroy the sockets.
        const ended = Promise.all([client?.end(), notifier.end()]);
        if (!(await settlesWithin(ended, CLOSE_GRACE_MS))) {
          sockets.destroyAll();
          await settlesWithin(ended, CLOSE_GRACE_MS);
        }
      })();
      return closing;
    },
  };
}

/** Reads a notification payload; null when it is not one of ours. */
function parsePayload(
  payload: string,
): { origin: string; event: ConnectionEvent | ApiKeyRevokedEvent | ConnectionEventsAppendedEvent } | null {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const { origin, connectionId, type, version, status, reason, keyId, tenantId } = value as Record<string, unknown>;
  if (typeof origin !== "string") return null;
  if (type === "api_key_revoked") {
    return typeof keyId === "string" && keyId !== "" ? { origin, event: { type, keyId } } : null;
  }
  if (type === "connection_events") {
    return typeof tenantId === "string" && tenantId !== "" ? { origin, event: { type, tenantId } } : null;
  }
  if (typeof connectionId !== "string" || connectionId === "") return null;
  if (type === "credential" && Number.isSafeInteger(version) && (version as number) >= 0) {
    return { origin, event: { connectionId, type, version: version as number } };
  }
  if (type === "status" && typeof status === "string" && isConnectionStatus(status) && (reason === null || typeof reason === "string")) {
    return { origin, event: { connectionId, type, status, reason } };
  }
  return null;
}
