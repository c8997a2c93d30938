/**
 * One cleartext TCP port that serves HTTP/1.1 and HTTP/2 with prior knowledge (h2c) through the
 * same request handler, with first-byte and slow-header deadlines, an HTTP/2 idle timeout and PING
 * check, caps on open connections, handler starts sliced during a burst of new connections (so
 * they are accepted in time), and a graceful drain on close. It owns sockets, protocol sessions
 * and when handlers start only: no routing, no TLS, no health endpoints, no signals.
 * Node's `http2.createServer({ allowHTTP1 })` cannot do this without TLS, hence the sniffer.
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import {
  DEFAULT_HTTP2_IDLE_TIMEOUT_MS,
  DEFAULT_HTTP2_PING_INTERVAL_MS,
  DEFAULT_HTTP2_PING_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
  DEFAULT_SHUTDOWN_GRACE_MS,
} from "../config/defaults.ts";
import { createConnectionCaps } from "./connection-caps.ts";
import { watchHttp2Liveness } from "./http2-liveness.ts";
import type { Listener, ListenerAddress, ListenerCloseOptions, ListenerLogger, ListenerOptions, ReadSoFar } from "./listener-contract.ts";
import { sniffProtocol } from "./sniff-protocol.ts";
import { createTurnSlicer } from "./turn-slicer.ts";

export type { ConnectionRefusal } from "./connection-caps.ts";

export type {
  ConnectionCloseReason,
  Http2StreamClaimer,
  Listener,
  ListenerAddress,
  ListenerCloseOptions,
  ListenerConnections,
  ListenerLogger,
  ListenerOptions,
  ListenerRequestHandler,
  ReadSoFar,
} from "./listener-contract.ts";

/**
 * Handler time one event-loop turn may take before the other handlers wait for the next turn, so
 * that libuv (one new connection per turn) admits a burst of connections in linear, not quadratic,
 * time while the established ones keep it busy: server/http/turn-slicer.ts.
 */
export const DEFAULT_HANDLER_SLICE_MS = 2;
/**
 * Handlers are sliced only this long after a connection was accepted: each turn of a burst accepts
 * one, so the burst keeps slicing on. Slicing would cost the steady state (the HTTP/2 answers to one
 * read spread over more writes: ~10 % more CPU per call), hence not always.
 */
const SLICING_AFTER_ACCEPT_MS = 50;

const silentLogger: ListenerLogger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Creates a listener; nothing is bound until `listen`.
 * @example
 * const listener = createListener({ handler: connectNodeAdapter({ routes }), logger });
 * const { port } = await listener.listen(8080, "0.0.0.0");
 * process.once("SIGTERM", () => void listener.close({ graceMs: 10_000 }));
 */
export function createListener(options: ListenerOptions): Listener {
  const logger = options.logger ?? silentLogger;
  const firstByteTimeoutMs = options.firstByteTimeoutMs ?? 10_000;
  const headersTimeoutMs = options.headersTimeoutMs ?? 15_000;
  const requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
  const maxHeaderSize = options.maxHeaderSize ?? 16_384;
  if (requestTimeoutMs < headersTimeoutMs) {
    // http.Server rejects it too, with a less helpful message.
    throw new RangeError("requestTimeoutMs must not be less than headersTimeoutMs");
  }

  const sockets = new Set<net.Socket>();
  const sniffing = new Set<net.Socket>();
  const h1Sockets = new Set<net.Socket>();
  const caps = createConnectionCaps({
    maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    maxPerAddress: options.maxConnectionsPerAddress ?? DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
    isExempt: options.isExemptFromPerAddressCap,
    logger,
  });
  const liveness = {
    requestTimeoutMs,
    idleTimeoutMs: options.http2IdleTimeoutMs ?? DEFAULT_HTTP2_IDLE_TIMEOUT_MS,
    pingIntervalMs: options.http2PingIntervalMs ?? DEFAULT_HTTP2_PING_INTERVAL_MS,
    pingTimeoutMs: options.http2PingTimeoutMs ?? DEFAULT_HTTP2_PING_TIMEOUT_MS,
  };
  const sessions = new Set<http2.ServerHttp2Session>();
  const h1Responses = new Set<http.ServerResponse>();
  let isDraining = false;
  let closing: Promise<void> | undefined;
  const handlerSliceMs = options.handlerSliceMs ?? DEFAULT_HANDLER_SLICE_MS;
  let lastAcceptAt = Number.NEGATIVE_INFINITY;
  const isBurst = (): boolean => performance.now() - lastAcceptAt < SLICING_AFTER_ACCEPT_MS;
  const slicer = handlerSliceMs > 0 ? createTurnSlicer({ sliceMs: handlerSliceMs, shouldYield: isBurst }) : undefined;

  const h1 = http.createServer({
    maxHeaderSize,
    headersTimeout: headersTimeoutMs,
    requestTimeout: requestTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 5_000,
    // Node checks the two timeouts on this interval (default 30 s, far too coarse for them).
    connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(headersTimeoutMs / 4))),
  });
  // An http.Server that never listen()s tracks no connections, so headersTimeout, requestTimeout
  // and closeIdleConnections() do nothing; "listening" is what starts the tracking.
  h1.emit("listening");
  h1.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    h1Responses.add(res);
    res.once("close", () => h1Responses.delete(res));
    res.once("finish", () => {
      // A response that began before the drain went out with keep-alive; its connection turns
      // idle once the server has handled "finish", so close it then.
      if (isDraining) setImmediate(() => h1.closeIdleConnections());
    });
    if (isDraining) res.setHeader("connection", "close");
    serve(req, res);
  });

  const h2 = http2.createServer({
    maxSessionMemory: options.maxSessionMemoryMb ?? 10,
    settings: {
      maxConcurrentStreams: options.maxConcurrentStreams ?? 100,
      maxHeaderListSize: maxHeaderSize,
    },
  });
  h2.on("session", (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    if (isDraining) session.close();
    watchHttp2Liveness(session, {
      ...liveness,
      onEnd(reason) {
        logger.debug({ reason, remoteAddress: session.socket?.remoteAddress }, "closing http2 session");
        options.onConnectionClosed?.(reason);
      },
    });
  });
  h2.on("sessionError", (err: Error) => logger.debug({ err }, "http2 session error"));
  if (options.claimHttp2Stream === undefined) h2.on("request", serve);
  else {
    // Unclaimed streams go through the compatibility API of a server that never listens (its
    // "stream" listener builds the request and response objects and emits "request").
    const compat = http2.createServer();
    compat.on("request", serve);
    const claim = options.claimHttp2Stream;
    h2.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, rawHeaders: string[]) => {
      let isClaimed = false;
      try {
        isClaimed = claim(stream, headers, (read) => handOff(stream, headers, rawHeaders, read), schedule);
      } catch (err) {
        logger.error({ err }, "http2 stream claimer threw");
        stream.destroy();
        return;
      }
      if (!isClaimed) compat.emit("stream", stream, headers, flags, rawHeaders);
    });
  }

  const netServer = net.createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: 60_000 });
  netServer.on("connection", (socket: net.Socket) => {
    const admission = caps.admit(socket.remoteAddress);
    if ("refused" in admission) {
      options.onConnectionRefused?.(admission.refused);
      // Before a byte is read, so the protocol does not matter; a reset spares this side the
      // TIME_WAIT a flood of orderly closes would pile up.
      socket.on("error", () => {});
      socket.resetAndDestroy();
      return;
    }
    // Only admitted connections make a burst: refused ones cannot keep the handlers sliced.
    lastAcceptAt = performance.now();
    sockets.add(socket);
    sniffing.add(socket);
    socket.once("close", () => {
      admission.release();
      sockets.delete(socket);
      sniffing.delete(socket);
      h1Sockets.delete(socket);
    });
    // Resets, bad prefaces and timeouts are the peer's business: note them, never crash.
    socket.on("error", (err: Error) => logger.debug({ err }, "socket error"));
    sniffProtocol(socket, {
      timeoutMs: firstByteTimeoutMs,
      onProtocol(protocol) {
        sniffing.delete(socket);
        if (protocol === "h2") {
          // No resume(): http2 reads the unshifted preface itself; resuming would flush it away.
          h2.emit("connection", socket);
        } else {
          h1Sockets.add(socket);
          h1.emit("connection", socket);
          // http.Server does not resume a socket that was paused explicitly.
          socket.resume();
        }
      },
      onTimeout() {
        logger.debug({ remoteAddress: socket.remoteAddress }, "no request bytes in time; closing");
        options.onConnectionClosed?.("first_byte_timeout");
        socket.destroy();
      },
    });
  });
  netServer.on("error", (err: Error) => logger.error({ err }, "listener error"));

  function serve(req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void {
    schedule(() => serveNow(req, res));
  }

  /** Starts a handler's work (a request's, or a claimed stream's). */
  function schedule(task: () => void): void {
    // Queued tasks keep their turn: after a burst the queue runs empty in one turn, then handlers
    // start at once again.
    if (slicer !== undefined && (slicer.pending() > 0 || isBurst())) slicer.run(task);
    else task();
  }

  function serveNow(req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void {
    const fail = (err: unknown): void => {
      logger.error({ err }, "request handler threw");
      if (res.headersSent) {
        res.destroy();
      } else {
        res.statusCode = 500;
        res.end();
      }
    };
    try {
      // Typed as returning void, but an async handler returns a promise whose rejection would
      // otherwise go unhandled.
      const result: unknown = options.handler(req, res);
      if (result instanceof Promise) result.catch(fail);
    } catch (err) {
      fail(err);
    }
  }

  /** A stream a claimer gave back, with the body bytes it had read replayed to the request. */
  function handOff(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, rawHeaders: string[], read: ReadSoFar): void {
    // No data event may pass with nobody listening until the request reads.
    stream.pause();
    const req = new http2.Http2ServerRequest(stream, headers, {}, rawHeaders);
    const res = new http2.Http2ServerResponse(stream);
    for (const chunk of read.chunks) req.push(chunk);
    if (read.isEnded) req.push(null);
    else {
      // The request starts listening for data on its first read; the stream paused above must
      // then flow again (the request pauses it again when it has enough).
      const readMore = req._read;
      req._read = function (size: number) {
        readMore.call(this, size);
        stream.resume();
      };
    }
    serve(req, res);
  }

  function address(): ListenerAddress | null {
    const bound = netServer.address();
    if (bound === null || typeof bound === "string") return null;
    return { port: bound.port, host: bound.address };
  }

  function listen(port: number, host: string): Promise<ListenerAddress> {
    if (closing !== undefined) return Promise.reject(new Error("listener is closed"));
    if (netServer.listening) return Promise.reject(new Error("listener is already listening"));
    return new Promise((resolve, reject) => {
      netServer.once("error", reject);
      netServer.listen({ port, host }, () => {
        netServer.off("error", reject);
        const bound = address();
        if (bound === null) {
          reject(new Error("listener has no address after listen"));
          return;
        }
        logger.info(bound, "listening");
        resolve(bound);
      });
    });
  }

  async function drain(graceMs: number): Promise<void> {
    isDraining = true;
    // The callback runs once the port is closed and every accepted socket is gone.
    const allClosed = new Promise<void>((resolve) => netServer.close(() => resolve()));
    let graceTimer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<"grace-over">((resolve) => {
      graceTimer = setTimeout(() => resolve("grace-over"), graceMs);
    });
    try {
      if (options.onBeforeClose) {
        const hook = Promise.resolve().then(options.onBeforeClose);
        await Promise.race([hook, graceOver]);
      }
    } catch (err) {
      logger.error({ err }, "onBeforeClose failed");
    }

    for (const session of sessions) session.close();
    for (const res of h1Responses) {
      if (!res.headersSent) res.setHeader("connection", "close");
    }
    h1.closeIdleConnections();
    // A socket that has sent nothing carries no request yet; the ones mid-preface may finish it
    // (they then get "connection: close" or an immediate GOAWAY).
    for (const socket of sniffing) {
      if (socket.bytesRead === 0) socket.destroy();
    }

    const outcome = await Promise.race([allClosed.then(() => "drained" as const), graceOver]);
    if (outcome === "grace-over") {
      logger.warn({ connections: sockets.size }, "grace period over; destroying connections");
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
      await allClosed;
    }
    clearTimeout(graceTimer);
    // Stops h1's connection-checking interval; neither server ever listened, so no error matters.
    h1.close(() => {});
    h2.close(() => {});
    logger.info({}, "listener closed");
  }

  return {
    listen,
    address,
    connections: () => ({ sniffing: sniffing.size, http1: h1Sockets.size, http2: sessions.size }),
    close(closeOptions?: ListenerCloseOptions): Promise<void> {
      closing ??= drain(closeOptions?.graceMs ?? DEFAULT_SHUTDOWN_GRACE_MS);
      return closing;
    },
  };
}
