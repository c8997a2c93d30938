/**
 * WatchConnections streams recorded for tests: every message with its arrival time, the events and
 * heartbeats apart, a bounded wait for a condition, and how the stream ended. Test support only.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Client, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import {
  type ConnectionEvent,
  ConnectionEventService,
  type WatchConnectionsRequestSchema,
  type WatchConnectionsResponse,
} from "../../gen/nexus/v1/events_pb.ts";
import { eventually } from "./wait.ts";

/** A protocol the test talks. */
export type StreamProtocol = "grpc" | "grpc-web" | "connect";

/** A ConnectionEventService client for `key` over `protocol`. */
export function eventClient(baseUrl: string, key: string, protocol: StreamProtocol = "grpc"): Client<typeof ConnectionEventService> {
  const bearer: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${key}`);
    return next(req);
  };
  const options = { baseUrl, interceptors: [bearer] };
  let transport: Transport;
  if (protocol === "grpc") transport = createGrpcTransport(options);
  else if (protocol === "grpc-web") transport = createGrpcWebTransport({ ...options, httpVersion: "1.1" });
  else transport = createConnectTransport({ ...options, httpVersion: "1.1" });
  return createClient(ConnectionEventService, transport);
}

/** A recorded stream. */
export interface RecordedWatch {
  readonly messages: WatchConnectionsResponse[];
  /** The connection events so far, in arrival order. */
  events(): ConnectionEvent[];
  heartbeats(): number;
  /** Waits until `check` holds for the messages so far; rejects naming `what` after `ms`. */
  until(check: (w: RecordedWatch) => boolean, what: string, ms?: number): Promise<void>;
  /** Waits for at least `count` events. */
  untilEvents(count: number, ms?: number): Promise<ConnectionEvent[]>;
  /** Waits for the first heartbeat (the replay is done, the stream is live). */
  live(ms?: number): Promise<void>;
  /** Resolves when the stream ends: undefined after a clean end or stop(), else its error. */
  readonly ended: Promise<ConnectError | undefined>;
  /** The `cursor` of the last message. */
  lastCursor(): string;
  stop(): void;
}

/** Opens and records a WatchConnections stream. */
export function recordWatch(
  client: Client<typeof ConnectionEventService>,
  request: MessageInitShape<typeof WatchConnectionsRequestSchema> = {},
): RecordedWatch {
  const controller = new AbortController();
  const messages: WatchConnectionsResponse[] = [];
  let isStopped = false;
  const ended = (async () => {
    try {
      for await (const message of client.watchConnections(request, { signal: controller.signal })) messages.push(message);
      return undefined;
    } catch (error) {
      if (isStopped) return undefined;
      return ConnectError.from(error);
    }
  })();
  let endedWith: ConnectError | undefined | null = null;
  void ended.then((e) => {
    endedWith = e;
  });
  const watch: RecordedWatch = {
    messages,
    events: () => messages.flatMap((m) => (m.event.case === "connectionEvent" ? [m.event.value] : [])),
    heartbeats: () => messages.filter((m) => m.event.case === "heartbeat").length,
    async until(check, what, ms = 10_000) {
      await eventually(
        () => {
          if (check(watch)) return true;
          if (endedWith !== null) throw new Error(`stream ended (${endedWith?.message ?? "cleanly"}) before ${what}`);
          return false;
        },
        ms,
        what,
      );
    },
    async untilEvents(count, ms) {
      await watch.until((w) => w.events().length >= count, `${count} events`, ms);
      return watch.events();
    },
    live: (ms) => watch.until((w) => w.heartbeats() > 0, "the first heartbeat", ms),
    ended,
    lastCursor: () => messages.at(-1)?.cursor ?? "",
    stop() {
      isStopped = true;
      controller.abort();
    },
  };
  return watch;
}
