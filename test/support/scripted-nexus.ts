/**
 * A scripted Nexus for client tests: a real connect-node server (gRPC, gRPC-Web and Connect on one
 * port, HTTP/1.1 and HTTP/2) whose TokenService and ConnectionService follow the proto semantics
 * (WatchCredentials: first event current credential or status, after_version resume, heartbeats,
 * end after revoked/attention_required; FailedPrecondition + ErrorInfo for unusable connections)
 * and whose state the test drives: rotate, change status, crash and restart on the same port.
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { create, type JsonObject, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { ApiKeyService } from "../../gen/nexus/v1/api_keys_pb.ts";
import { AuditService } from "../../gen/nexus/v1/audit_pb.ts";
import { ConnectionService } from "../../gen/nexus/v1/connections_pb.ts";
import { type Credential, CredentialSchema, type StrategySchema, StrategyType } from "../../gen/nexus/v1/credential_pb.ts";
import { ErrorInfoSchema, ErrorReason } from "../../gen/nexus/v1/errors_pb.ts";
import { ProviderService } from "../../gen/nexus/v1/providers_pb.ts";
import { ConnectionStatus } from "../../gen/nexus/v1/status_pb.ts";
import { TokenService, type WatchCredentialsResponse, WatchCredentialsResponseSchema } from "../../gen/nexus/v1/tokens_pb.ts";
import { createQueue } from "./async-queue.ts";

/** How a scripted connection's credentials look. */
export interface ScriptedConnectionInit {
  strategy?: MessageInitShape<typeof StrategySchema>;
  /** The credential fields for a version. Default `{ access_token: "tok-<id>-v<version>" }`. */
  credentials?: (version: bigint) => JsonObject;
  /** Lifetime of each credential; 0 = static (expires_at 0). Default 3600. */
  lifetimeSeconds?: number;
}

/** What the server saw. */
export interface ScriptedCalls {
  getToken: number;
  refreshConnection: number;
  watch: Array<{ connectionId: string; afterVersion: bigint }>;
  /** The Authorization header of every call, in order. */
  authorization: Array<string | null>;
  /** Service/method of every call, in order. */
  methods: string[];
}

/** The running scripted server. */
export interface ScriptedNexus {
  readonly baseUrl: string;
  readonly port: number;
  readonly calls: ScriptedCalls;
  /** "rotate" (default): RefreshConnection rotates; "unimplemented": answers Unimplemented. */
  refreshMode: "rotate" | "unimplemented";
  /** "enabled" (default) or "unimplemented" (like the real server today). */
  watchMode: "enabled" | "unimplemented";
  /** Heartbeat period of new and open watch streams; 0 stops heartbeats (a silent server). */
  heartbeatIntervalMs: number;
  /** Heartbeats handed to watch streams so far (tests wait for these instead of sleeping). */
  readonly heartbeatsSent: number;
  addConnection(connectionId: string, init?: ScriptedConnectionInit): Credential;
  /** Issues the next credential version and pushes it to open watches. */
  rotate(connectionId: string): Credential;
  /** Changes the status; pushes a status event (and ends streams on revoked / attention_required). */
  setStatus(connectionId: string, status: ConnectionStatus, reason?: string): void;
  credential(connectionId: string): Credential;
  /** Number of watch streams open right now. */
  openWatches(): number;
  /** Crash: stop listening and destroy every connection (state is kept). */
  stop(): Promise<void>;
  /** Listen again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

interface ConnectionState {
  init: ScriptedConnectionInit;
  status: ConnectionStatus;
  reason: string;
  credential: Credential;
}

interface Subscriber {
  connectionId: string;
  push(event: WatchCredentialsResponse): void;
  end(): void;
}

/**
 * Starts a scripted Nexus on 127.0.0.1 (port 0 unless given).
 *
 * @example
 * const nexus = await startScriptedNexus();
 * nexus.addConnection("conn-1");
 * const client = createNexusClient({ baseUrl: nexus.baseUrl });
 */
export async function startScriptedNexus(options: { port?: number; heartbeatIntervalMs?: number } = {}): Promise<ScriptedNexus> {
  const connections = new Map<string, ConnectionState>();
  const subscribers = new Set<Subscriber>();
  let heartbeatsSent = 0;
  const calls: ScriptedCalls = { getToken: 0, refreshConnection: 0, watch: [], authorization: [], methods: [] };
  const sockets = new Set<net.Socket>();

  const issue = (connectionId: string, init: ScriptedConnectionInit, version: bigint): Credential => {
    const lifetime = init.lifetimeSeconds ?? 3600;
    return create(CredentialSchema, {
      connectionId,
      version,
      strategy: init.strategy ?? { type: StrategyType.OAUTH2 },
      credentials: init.credentials?.(version) ?? { access_token: `tok-${connectionId}-v${version}` },
      expiresAt: lifetime === 0 ? 0n : BigInt(Math.floor(Date.now() / 1000) + lifetime),
    });
  };
  const stateOf = (connectionId: string): ConnectionState => {
    const state = connections.get(connectionId);
    if (!state) {
      throw new ConnectError(`connection ${connectionId} not found`, Code.NotFound, undefined, [
        { desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason: ErrorReason.CONNECTION_NOT_FOUND, connectionId }) },
      ]);
    }
    return state;
  };
  const usable = (connectionId: string): ConnectionState => {
    const state = stateOf(connectionId);
    if (state.status === ConnectionStatus.ACTIVE) return state;
    const reason =
      state.status === ConnectionStatus.ATTENTION_REQUIRED
        ? ErrorReason.CONNECTION_NEEDS_ATTENTION
        : state.status === ConnectionStatus.REVOKED
          ? ErrorReason.CONNECTION_REVOKED
          : state.status === ConnectionStatus.PENDING
            ? ErrorReason.CONNECTION_PENDING
            : ErrorReason.CONNECTION_EXPIRED;
    throw new ConnectError(`connection ${connectionId} is not usable`, Code.FailedPrecondition, undefined, [
      { desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason, connectionId, status: state.status }) },
    ]);
  };
  const record = (method: string, header: Headers) => {
    calls.methods.push(method);
    calls.authorization.push(header.get("authorization"));
  };
  const isFinal = (status: ConnectionStatus) => status === ConnectionStatus.REVOKED || status === ConnectionStatus.ATTENTION_REQUIRED;

  const nexus: ScriptedNexus = {
    baseUrl: "",
    port: 0,
    calls,
    refreshMode: "rotate",
    watchMode: "enabled",
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 0,
    get heartbeatsSent() {
      return heartbeatsSent;
    },
    addConnection(connectionId, init = {}) {
      const credential = issue(connectionId, init, 1n);
      connections.set(connectionId, { init, status: ConnectionStatus.ACTIVE, reason: "", credential });
      return credential;
    },
    rotate(connectionId) {
      const state = stateOf(connectionId);
      state.credential = issue(connectionId, state.init, state.credential.version + 1n);
      for (const s of subscribers) {
        if (s.connectionId === connectionId)
          s.push(create(WatchCredentialsResponseSchema, { event: { case: "credential", value: state.credential } }));
      }
      return state.credential;
    },
    setStatus(connectionId, status, reason = "") {
      const state = stateOf(connectionId);
      state.status = status;
      state.reason = reason;
      for (const s of subscribers) {
        if (s.connectionId === connectionId)
          s.push(create(WatchCredentialsResponseSchema, { event: { case: "status", value: { status, reason } } }));
      }
    },
    credential: (connectionId) => stateOf(connectionId).credential,
    openWatches: () => subscribers.size,
    stop: async () => {},
    start: async () => {},
    close: async () => {},
  };

  const routes = (router: ConnectRouter) => {
    router.service(TokenService, {
      getToken(request, context) {
        record("GetToken", context.requestHeader);
        calls.getToken += 1;
        return { credential: usable(request.connectionId).credential };
      },
      refreshConnection(request, context) {
        record("RefreshConnection", context.requestHeader);
        calls.refreshConnection += 1;
        if (nexus.refreshMode === "unimplemented") throw new ConnectError("refresh engine not built", Code.Unimplemented);
        usable(request.connectionId);
        return { credential: nexus.rotate(request.connectionId) };
      },
      async *watchCredentials(request, context) {
        record("WatchCredentials", context.requestHeader);
        calls.watch.push({ connectionId: request.connectionId, afterVersion: request.afterVersion });
        if (nexus.watchMode === "unimplemented") throw new ConnectError("watch not built", Code.Unimplemented);
        const state = stateOf(request.connectionId);
        const queue = createQueue<WatchCredentialsResponse>();
        const subscriber: Subscriber = { connectionId: request.connectionId, push: queue.push, end: queue.end };
        subscribers.add(subscriber);
        context.signal.addEventListener("abort", queue.end, { once: true });
        const heartbeat =
          nexus.heartbeatIntervalMs > 0
            ? setInterval(() => {
                if (nexus.heartbeatIntervalMs > 0) {
                  queue.push(
                    create(WatchCredentialsResponseSchema, {
                      event: { case: "heartbeat", value: { serverTime: BigInt(Math.floor(Date.now() / 1000)) } },
                    }),
                  );
                }
              }, nexus.heartbeatIntervalMs)
            : undefined;
        let lastSent = request.afterVersion;
        try {
          if (state.status !== ConnectionStatus.ACTIVE) {
            yield create(WatchCredentialsResponseSchema, {
              event: { case: "status", value: { status: state.status, reason: state.reason } },
            });
            if (isFinal(state.status)) return;
          } else if (state.credential.version > lastSent) {
            lastSent = state.credential.version;
            yield create(WatchCredentialsResponseSchema, { event: { case: "credential", value: state.credential } });
          }
          for await (const event of queue.iterate()) {
            if (event.event.case === "credential") {
              if (event.event.value.version <= lastSent) continue;
              lastSent = event.event.value.version;
            }
            yield event;
            if (event.event.case === "heartbeat") heartbeatsSent += 1;
            if (event.event.case === "status" && isFinal(event.event.value.status)) return;
          }
        } finally {
          clearInterval(heartbeat);
          subscribers.delete(subscriber);
        }
      },
    });
    router.service(ConnectionService, {
      checkConnection(request, context) {
        record("CheckConnection", context.requestHeader);
        return { status: stateOf(request.connectionId).status };
      },
    });
    router.service(ProviderService, {
      listProviders(_request, context) {
        record("ListProviders", context.requestHeader);
        return { providers: [{ name: "scripted" }] };
      },
    });
    router.service(ApiKeyService, {
      listApiKeys(_request, context) {
        record("ListApiKeys", context.requestHeader);
        return {};
      },
    });
    router.service(AuditService, {
      listAuditEvents(_request, context) {
        record("ListAuditEvents", context.requestHeader);
        return {};
      },
    });
  };

  const handler = connectNodeAdapter({ routes });
  const h1 = http.createServer(handler);
  const h2 = http2.createServer(handler);
  // One cleartext port for HTTP/1.1 and HTTP/2 prior knowledge: sniff the "PRI" preface
  // (toolchain.md: http2 allowHTTP1 does not work without TLS).
  const listener = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    let seen = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      if (seen.length < 3 && Buffer.from("PRI").subarray(0, seen.length).equals(seen)) return;
      socket.off("data", onData);
      socket.pause();
      socket.unshift(seen);
      if (seen.subarray(0, 3).toString() === "PRI") {
        h2.emit("connection", socket);
      } else {
        h1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
  });

  let port = options.port ?? 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      listener.once("error", reject);
      listener.listen(port, "127.0.0.1", () => {
        listener.off("error", reject);
        port = (listener.address() as net.AddressInfo).port;
        resolve();
      });
    });
  const stop = async () => {
    for (const s of subscribers) s.end();
    const closed = listener.listening ? new Promise<void>((resolve) => listener.close(() => resolve())) : Promise.resolve();
    for (const socket of sockets) socket.destroy();
    await closed;
  };

  await listen();
  Object.assign(nexus, {
    baseUrl: `http://127.0.0.1:${port}`,
    port,
    stop,
    start: listen,
    close: stop,
  });
  return nexus;
}
