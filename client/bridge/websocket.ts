/**
 * maintainWebSocket: keeps one authenticated WebSocket (the `ws` package) to a service open.
 * It owns the connect → wait → decide loop: keep-alive pings, reconnect with backoff, re-auth by
 * reconnecting when the credential rotates, a forced refresh when the handshake is refused with
 * 401/403, and stopping for good on permanent close codes. It never logs the URL's query string.
 */
import { performance } from "node:perf_hooks";
import { type ClientOptions, type RawData, WebSocket } from "ws";
import type { Credential } from "../../gen/nexus/v1/credential_pb.ts";
import { applyCredential } from "../apply-credential.ts";
import type { BackoffOptions } from "../backoff.ts";
import { PermanentCloseError } from "../errors.ts";
import { errorFields } from "../logger.ts";
import { type LinkEnvironment, type LinkSupervisor, type MaintainHandle, superviseLink } from "./link-supervisor.ts";

/** Data `send` accepts (what `ws` sends). */
export type WebSocketData = string | Buffer | ArrayBuffer | ArrayBufferView;

/** Why a link went down. */
export type DisconnectCause = "remote" | "rotation" | "ping-timeout" | "stop";

/** What {@link WebSocketHandler.onDisconnect} is told. */
export interface DisconnectEvent {
  /** Close code (1006 when the connection dropped without a close frame). */
  code: number;
  reason: string;
  cause: DisconnectCause;
  /** Whether the bridge will connect again. */
  willReconnect: boolean;
}

/** The application's side of a maintained WebSocket. Handler errors are logged, never fatal. */
export interface WebSocketHandler {
  /** The socket is open and authenticated; `send` returns false once it is closed. */
  onConnect?(send: (data: WebSocketData) => boolean, socket: WebSocket): void | Promise<void>;
  /** A message arrived. */
  onMessage?(data: RawData, isBinary: boolean): void | Promise<void>;
  /** The socket closed. */
  onDisconnect?(event: DisconnectEvent): void | Promise<void>;
}

/** Options of `Bridge.maintainWebSocket`. */
export interface MaintainWebSocketOptions {
  /** Stops the link, like `handle.stop()`. */
  signal?: AbortSignal;
  /** Headers of your own for the handshake (the credential's are added). */
  headers?: ConstructorParameters<typeof Headers>[0];
  /** Sub-protocols to offer. */
  protocols?: string | string[];
  /** Ping period; a peer that has not answered the previous ping by then is dropped. Default 30 000 ms; 0 disables. */
  pingIntervalMs?: number;
  /** Reconnect with the new credential when it rotates. Default true. */
  reconnectOnRotation?: boolean;
  /** Close codes after which the bridge stops instead of reconnecting. Default 1008 and 4001-4099. */
  permanentCloseCodes?: Iterable<number>;
  /** Reconnect delays; defaults to the bridge's. */
  backoff?: BackoffOptions;
  /** The backoff restarts from its floor only after a link stayed up this long. Default 5 000 ms. */
  stableAfterMs?: number;
  /** Handshake timeout. Default 10 000 ms. */
  handshakeTimeoutMs?: number;
  /** How long a clean close may take before the socket is terminated. Default 2 000 ms. */
  closeTimeoutMs?: number;
  /** Further `ws` client options (TLS, agent, ...). */
  wsOptions?: Omit<ClientOptions, "headers" | "handshakeTimeout">;
}

/** The default permanent close codes: 1008 policy violation and the app-defined 4001-4099. */
export const DEFAULT_PERMANENT_CLOSE_CODES: readonly number[] = [1008, ...Array.from({ length: 99 }, (_, i) => 4001 + i)];

type LinkOutcome =
  | { kind: "closed"; code: number; reason: string; cause: DisconnectCause; upForMs: number }
  | { kind: "rejected"; status: number }
  | { kind: "failed"; error: unknown };

/**
 * Maintains a WebSocket to `url` for `connectionId`. Use `Bridge.maintainWebSocket`, which
 * supplies the environment.
 *
 * @example
 * const handle = maintainWebSocket(env, connectionId, "wss://stream.example.com", {
 *   onConnect: (send) => {
 *     send(JSON.stringify({ subscribe: "events" }));
 *   },
 *   onMessage: (data) => console.log(String(data)),
 * });
 */
export function maintainWebSocket(
  env: LinkEnvironment,
  connectionId: string,
  url: string | URL,
  handler: WebSocketHandler,
  options: MaintainWebSocketOptions = {},
): MaintainHandle {
  const permanent = new Set(options.permanentCloseCodes ?? DEFAULT_PERMANENT_CLOSE_CODES);
  const reconnectOnRotation = options.reconnectOnRotation ?? true;
  const stableAfterMs = options.stableAfterMs ?? 5_000;
  const { logger } = env;
  const safeUrl = redactedUrl(url);

  const callHandler = async (name: keyof WebSocketHandler, call: () => void | Promise<void>) => {
    try {
      await call();
    } catch (err) {
      logger.error({ connection_id: connectionId, handler: name, ...errorFields(err) }, "websocket handler threw");
    }
  };

  return superviseLink(
    env,
    {
      connectionId,
      transport: "websocket",
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.backoff ? { backoff: options.backoff } : {}),
    },
    async (supervisor) => {
      let reauthenticate: (() => void) | undefined;
      let linkVersion = 0n;
      supervisor.onRotation((credential) => {
        if (reconnectOnRotation && credential.version > linkVersion) reauthenticate?.();
      });

      while (!supervisor.signal.aborted) {
        const credential = await supervisor.currentCredential();
        if (!credential) return;
        const handshake = await applyCredential(
          credential,
          { url, ...(options.headers ? { headers: options.headers } : {}) },
          { clock: env.client.clock },
        );
        linkVersion = credential.version;
        const outcome = await openLink(supervisor, handshake, credential, {
          handler,
          callHandler,
          options,
          setReauth: (fn) => (reauthenticate = fn),
          isStale: () => reconnectOnRotation && supervisor.latestVersion() > credential.version,
        });
        reauthenticate = undefined;
        if (supervisor.signal.aborted && outcome.kind !== "closed") return;

        if (outcome.kind === "rejected") {
          logger.warn({ connection_id: connectionId, url: safeUrl, http_status: outcome.status }, "websocket handshake refused");
          if (outcome.status === 401 || outcome.status === 403) await supervisor.forceRefresh(credential.version);
          if (!(await supervisor.waitBeforeRetry())) return;
          continue;
        }
        if (outcome.kind === "failed") {
          logger.warn({ connection_id: connectionId, url: safeUrl, ...errorFields(outcome.error) }, "websocket connect failed");
          if (!(await supervisor.waitBeforeRetry())) return;
          continue;
        }

        const isStopping = outcome.cause === "stop" || supervisor.signal.aborted;
        const isPermanent = outcome.cause === "remote" && permanent.has(outcome.code);
        const willReconnect = !isStopping && !isPermanent;
        logger.info(
          { connection_id: connectionId, url: safeUrl, close_code: outcome.code, cause: outcome.cause, will_reconnect: willReconnect },
          "websocket closed",
        );
        await callHandler("onDisconnect", () =>
          handler.onDisconnect?.({ code: outcome.code, reason: outcome.reason, cause: outcome.cause, willReconnect }),
        );
        if (isStopping) return;
        if (isPermanent) throw new PermanentCloseError(outcome.code, outcome.reason);
        if (outcome.cause === "rotation") {
          supervisor.backoff.reset();
          continue;
        }
        if (outcome.upForMs >= stableAfterMs) supervisor.backoff.reset();
        if (!(await supervisor.waitBeforeRetry())) return;
      }
    },
  );
}

interface LinkCallbacks {
  handler: WebSocketHandler;
  callHandler: (name: keyof WebSocketHandler, call: () => void | Promise<void>) => Promise<void>;
  options: MaintainWebSocketOptions;
  setReauth: (reauthenticate: () => void) => void;
  isStale: () => boolean;
}

/** Opens one socket and resolves when it is gone, with what happened. Never rejects. */
function openLink(
  supervisor: LinkSupervisor,
  handshake: { url: URL; headers: Headers },
  credential: Credential,
  { handler, callHandler, options, setReauth, isStale }: LinkCallbacks,
): Promise<LinkOutcome> {
  return new Promise<LinkOutcome>((resolve) => {
    const socket = new WebSocket(handshake.url, options.protocols, {
      ...options.wsOptions,
      headers: headerRecord(handshake.headers),
      handshakeTimeout: options.handshakeTimeoutMs ?? 10_000,
    });
    let cause: DisconnectCause = "remote";
    let openedAt = 0;
    let isAlive = true;
    let lastError: unknown;
    let rejectedStatus: number | undefined;
    let pingTimer: NodeJS.Timeout | undefined;
    let closeTimer: NodeJS.Timeout | undefined;

    const closeAs = (why: DisconnectCause, code: number, reason: string) => {
      if (socket.readyState === WebSocket.CLOSED) return;
      cause = why;
      if (socket.readyState === WebSocket.CONNECTING) {
        socket.terminate();
        return;
      }
      socket.close(code, reason);
      // A peer that never answers the close frame must not hold the loop.
      closeTimer = setTimeout(() => socket.terminate(), options.closeTimeoutMs ?? 2_000);
    };
    const onStop = () => closeAs("stop", 1000, "bridge stopping");
    supervisor.signal.addEventListener("abort", onStop, { once: true });
    setReauth(() => closeAs("rotation", 1000, "credential rotated"));

    socket.on("unexpected-response", (request, response) => {
      rejectedStatus = response.statusCode ?? 0;
      response.resume();
      request.destroy();
      socket.terminate();
    });
    socket.on("error", (err) => {
      lastError = err;
    });
    socket.on("open", () => {
      openedAt = performance.now();
      supervisor.linkUp(credential);
      const send = (data: WebSocketData) => {
        if (socket.readyState !== WebSocket.OPEN) return false;
        socket.send(data);
        return true;
      };
      void callHandler("onConnect", () => handler.onConnect?.(send, socket));
      const pingIntervalMs = options.pingIntervalMs ?? 30_000;
      if (pingIntervalMs > 0) {
        pingTimer = setInterval(() => {
          if (!isAlive) {
            cause = "ping-timeout";
            socket.terminate();
            return;
          }
          isAlive = false;
          socket.ping();
        }, pingIntervalMs);
      }
      // The credential rotated while the handshake was in flight: re-authenticate at once.
      if (isStale()) closeAs("rotation", 1000, "credential rotated");
    });
    socket.on("pong", () => {
      isAlive = true;
    });
    socket.on("message", (data, isBinary) => {
      isAlive = true;
      void callHandler("onMessage", () => handler.onMessage?.(data, isBinary));
    });
    socket.on("close", (code, reason) => {
      clearInterval(pingTimer);
      clearTimeout(closeTimer);
      supervisor.signal.removeEventListener("abort", onStop);
      if (openedAt > 0) {
        supervisor.linkDown();
        resolve({ kind: "closed", code, reason: reason.toString(), cause, upForMs: performance.now() - openedAt });
      } else if (rejectedStatus !== undefined) {
        resolve({ kind: "rejected", status: rejectedStatus });
      } else {
        resolve({ kind: "failed", error: lastError });
      }
    });
  });
}

/** The URL without query or fragment: a query_param credential must never reach a log line. */
function redactedUrl(url: string | URL): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}

// Headers → plain record via forEach: `Object.fromEntries(headers)` needs Headers to be iterable,
// which TypeScript's DOM lib (an agent's `tsc --init` default) does not declare without dom.iterable.
function headerRecord(headers: Headers): Record<string, string> {
  const record: Record<string, string> = {};
  headers.forEach((value, name) => {
    record[name] = value;
  });
  return record;
}
