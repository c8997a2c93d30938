/**
 * The listener's contract: its options, logger, request handler, address and the `Listener` it returns
 * (implemented by listener.ts, which re-exports these types).
 */
import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { ConnectionRefusal } from "./connection-caps.ts";
import type { Http2LivenessEnd } from "./http2-liveness.ts";

/** Why the listener itself closed a connection (as opposed to the peer or the handler). */
export type ConnectionCloseReason = "first_byte_timeout" | Http2LivenessEnd;

/** The request handler both protocols share, e.g. connect-node's `connectNodeAdapter(...)`. */
export type ListenerRequestHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** What a claimer read of a stream's body before handing the stream back (see `Http2StreamClaimer`). */
export interface ReadSoFar {
  chunks: readonly Buffer[];
  /** The client ended its side: `chunks` is the whole body. */
  isEnded: boolean;
}

/**
 * Sees each HTTP/2 stream before the compatibility API (Http2ServerRequest/Response) does: returns
 * true to serve the stream itself. A claimer that started reading the body and then wants the
 * ordinary path calls `handOff` with what it read (its listeners removed, in the same turn): the
 * stream then reaches `handler` as if untouched. `schedule` runs a task when the ordinary path
 * would start a handler: at once, or in turn while a burst of new connections is being accepted
 * (turn-slicer.ts).
 */
export type Http2StreamClaimer = (
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  handOff: (read: ReadSoFar) => void,
  schedule: (task: () => void) => void,
) => boolean;

/** The logger the listener writes to; a pino logger fits. */
export interface ListenerLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Settings for `createListener`. Every duration is in milliseconds. */
export interface ListenerOptions {
  /** Serves every request, HTTP/1.1 and HTTP/2 alike. */
  handler: ListenerRequestHandler;
  /** HTTP/2 streams served without the compatibility API (server/rpc/watch-h2.ts); default none. */
  claimHttp2Stream?: Http2StreamClaimer;
  /** Runs when `close()` starts, after the port stops accepting and before draining (e.g. to end
   * long-lived streams). Bounded by the grace period; a throw is logged and ignored. */
  onBeforeClose?: () => void | Promise<void>;
  /** A new socket that has not shown its protocol by then is destroyed. Default 10 000. */
  firstByteTimeoutMs?: number;
  /** HTTP/1.1: time to receive a request's complete header block, else 408. Default 15 000. */
  headersTimeoutMs?: number;
  /** Time to receive a whole request (headers and body): HTTP/1.1 answers 408, HTTP/2 resets a
   * stream that has no response yet. The response is not covered, so long-lived streaming
   * responses are unaffected. Default 60 000. */
  requestTimeoutMs?: number;
  /** HTTP/1.1: an idle keep-alive connection is closed after this. Default 5 000. */
  keepAliveTimeoutMs?: number;
  /** Largest request header block in bytes, HTTP/1.1 and HTTP/2 alike. Default 16 384. */
  maxHeaderSize?: number;
  /** HTTP/2: memory one session may use, in megabytes, before new streams are refused.
   * Default 10 (Node's default). */
  maxSessionMemoryMb?: number;
  /**
   * HTTP/2: SETTINGS_MAX_CONCURRENT_STREAMS announced to clients. Default 100 (gRPC's usual
   * figure): a stream whose request never finishes reaches no interceptor, so this bounds them.
   */
  maxConcurrentStreams?: number;
  /** HTTP/2: a session with no open stream for this long gets GOAWAY and is closed. Default DEFAULT_HTTP2_IDLE_TIMEOUT_MS (config/defaults.ts). */
  http2IdleTimeoutMs?: number;
  /** HTTP/2: while a session has open streams, the peer is PINGed this often. Default DEFAULT_HTTP2_PING_INTERVAL_MS. */
  http2PingIntervalMs?: number;
  /** HTTP/2: a PING not acked within this destroys the session (dead peer). Default DEFAULT_HTTP2_PING_TIMEOUT_MS. */
  http2PingTimeoutMs?: number;
  /** Connections open at once; one more is closed as soon as it is accepted. Default DEFAULT_MAX_CONNECTIONS. */
  maxConnections?: number;
  /** Connections open at once from one peer address (IPv6: one /64). Default DEFAULT_MAX_CONNECTIONS_PER_ADDRESS. */
  maxConnectionsPerAddress?: number;
  /** Peers exempt from `maxConnectionsPerAddress`, e.g. trusted proxies. Default: none. */
  isExemptFromPerAddressCap?: (address: string) => boolean;
  /** Told of every refused connection (e.g. to count it in a metric). */
  onConnectionRefused?: (reason: ConnectionRefusal) => void;
  /** Told of every connection the listener closes for its own reasons (timeouts, dead peers). */
  onConnectionClosed?: (reason: ConnectionCloseReason) => void;
  /**
   * Handler starts run in arrival order, each turn of the event loop at most this long (ms) before
   * the rest wait for the next turn, where a new connection can be accepted; 0 starts every handler
   * at once, in the turn that read its request. Default DEFAULT_HANDLER_SLICE_MS (listener.ts).
   */
  handlerSliceMs?: number;
  /** Default: logs nothing. */
  logger?: ListenerLogger;
}

/** Where a listener accepts connections. */
export interface ListenerAddress {
  port: number;
  host: string;
}

/** Options for `Listener.close`. */
export interface ListenerCloseOptions {
  /** How long in-flight requests may run before their connections are destroyed. Default DEFAULT_SHUTDOWN_GRACE_MS. */
  graceMs?: number;
}

/** A started or startable one-port HTTP/1.1 + h2c server. */
export interface Listener {
  /** Starts accepting on `host:port` (port 0 picks a free port); resolves with the real address. */
  listen(port: number, host: string): Promise<ListenerAddress>;
  /**
   * Stops accepting, runs `onBeforeClose`, sends GOAWAY to HTTP/2 sessions, closes idle HTTP/1.1
   * connections, lets in-flight requests finish for up to `graceMs`, then destroys what is left.
   * Resolves once every socket is gone. Calling it again returns the same promise.
   */
  close(options?: ListenerCloseOptions): Promise<void>;
  /** The address being listened on, or null before `listen` resolves and after `close`. */
  address(): ListenerAddress | null;
  /** Open connections by phase: not yet sniffed, serving HTTP/1.1, serving HTTP/2. */
  connections(): ListenerConnections;
}

/** Counts of open connections, as `Listener.connections` reports them. */
export interface ListenerConnections {
  sniffing: number;
  http1: number;
  http2: number;
}
