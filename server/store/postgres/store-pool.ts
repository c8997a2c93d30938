/**
 * The node-postgres pool behind the PostgreSQL store, set up to survive the database going away:
 * every client, idle or checked out, has an 'error' listener (pg-pool only listens on idle ones,
 * and an 'error' event without a listener ends the process), and every wait is bounded — for a
 * connection, for a query's answer (a silent network partition sends no reset, so without this a
 * read waits for the OS's ~2 h keepalive), and for closing — so an unreachable database answers
 * Unavailable within seconds instead of hanging.
 */
import { Socket } from "node:net";
import { type ClientConfig, Pool } from "pg";
import { DEFAULT_DATABASE_QUERY_TIMEOUT_MS } from "../../config/defaults.ts";

/** TCP keepalive probes start after this much silence on an idle connection (OS default: ~2 h). */
const KEEPALIVE_INITIAL_DELAY_MS = 10_000;

/** Options of `createStorePool`. */
export interface StorePoolOptions {
  connectionString: string;
  /** Most connections open at once. Default 10. */
  poolMax?: number;
  /** Longest wait for a connection (database unreachable or pool exhausted), ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Longest wait for a query's answer, ms; the server cancels a statement a little earlier. Default 5000. */
  queryTimeoutMs?: number;
  /** Told about every connection failure outside a query; messages carry no query values. */
  onError: (error: Error) => void;
}

/** A pool and a bounded way to close it. */
export interface StorePool {
  readonly pool: Pool;
  /**
   * Ends the pool: waits up to `graceMs` for connections to say goodbye, then destroys the sockets
   * still open (a partitioned database never answers the goodbye). Safe to call twice.
   */
  end(graceMs?: number): Promise<void>;
}

/**
 * The pg settings that bound every wait on one connection: `query_timeout` (client side: the query
 * fails "Query read timeout" and the connection is discarded), `statement_timeout` (server side,
 * 1 s earlier so a merely slow statement is cancelled cleanly and the connection kept), TCP
 * keepalive after 10 s of silence, and `idle_in_transaction_session_timeout` (server side): a
 * session left idle inside a transaction for the query timeout (its process paused or partitioned
 * between two statements, e.g. after the connection event insert and before COMMIT) is ended by
 * PostgreSQL, so the locks it holds (the event-writer advisory lock, row locks) are freed instead of
 * blocking every replica's writers until the server's own TCP keepalive (hours) notices.
 * No store transaction waits on anything but the database between its statements. Shared by the
 * store pool and the LISTEN/NOTIFY bridge.
 */
export function boundedClientConfig(options: {
  connectionString: string;
  connectTimeoutMs?: number;
  queryTimeoutMs?: number;
}): ClientConfig {
  const queryTimeoutMs = options.queryTimeoutMs ?? DEFAULT_DATABASE_QUERY_TIMEOUT_MS;
  return {
    connectionString: options.connectionString,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    query_timeout: queryTimeoutMs,
    statement_timeout: Math.max(1, queryTimeoutMs - 1_000),
    idle_in_transaction_session_timeout: queryTimeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_INITIAL_DELAY_MS,
  };
}

/**
 * A pg `stream` factory that remembers every socket it makes until it closes, so a close that
 * must not hang can destroy what a partition left open.
 */
export function trackedSockets(): { stream: () => Socket; destroyAll(): void } {
  const open = new Set<Socket>();
  return {
    stream() {
      const socket = new Socket();
      open.add(socket);
      socket.once("close", () => open.delete(socket));
      return socket;
    },
    destroyAll() {
      for (const socket of open) socket.destroy();
    },
  };
}

/** Waits for `promise` at most `ms`; true when it settled in time (its failure is ignored). */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(resolve, ms, false)));
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      timedOut,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Creates the pool; it connects lazily. */
export function createStorePool(options: StorePoolOptions): StorePool {
  const sockets = trackedSockets();
  const pool = new Pool({
    ...boundedClientConfig(options),
    max: options.poolMax ?? 10,
    // A default only: an application_name in the connection string wins.
    application_name: "nexus",
    stream: sockets.stream,
  });
  pool.on("error", options.onError);
  // A checked-out client (a transaction between two statements, the migration lock) whose
  // connection drops emits 'error' too; the statement in flight, if any, fails on its own.
  pool.on("connect", (client) => client.on("error", options.onError));
  let ending: Promise<void> | undefined;
  return {
    pool,
    end(graceMs = 2_000) {
      ending ??= (async () => {
        const ended = pool.end();
        if (!(await settlesWithin(ended, graceMs))) {
          sockets.destroyAll();
          await settlesWithin(ended, graceMs);
        }
      })();
      return ending;
    },
  };
}
