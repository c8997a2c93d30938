/**
 * The client side of the fan-out benchmark: many WatchCredentials gRPC streams spread over a fixed
 * number of HTTP/2 sessions, each recording when it first saw a credential version. Raw node:http2
 * streams and a minimal frame reader keep the client's own cost per message small (a full
 * connect-node client per stream made the client, not the server, the bottleneck at 10k streams).
 * It runs in the bench process so the server's RSS is the server's alone.
 */
import http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { WatchCredentialsRequestSchema, WatchCredentialsResponseSchema } from "../gen/nexus/v1/tokens_pb.ts";
import { grpcFrame } from "./h2-call.ts";

const WATCH_PATH = "/nexus.v1.TokenService/WatchCredentials";

/** What a fleet is asked to open. */
export interface FleetOptions {
  baseUrl: string;
  authorization: string;
  /** connectionIds[i] is watched by `watchersPerConnection` streams. */
  connectionIds: readonly string[];
  watchersPerConnection: number;
  /** HTTP/2 sessions to spread the streams over (keep streams per session under the server's limit). */
  sessions: number;
  /** Streams opened at once before waiting for their first credential. */
  openBatch?: number;
}

/** Open watch streams. */
export interface WatchFleet {
  readonly size: number;
  /**
   * Resolves with each watcher's delay (ms, from `startedAtMs` on performance.now(): one time, or
   * one per connection) until it saw at least the version expected for its connection; rejects
   * after `timeoutMs`.
   */
  waitForVersions(
    expected: ReadonlyMap<string, number>,
    startedAtMs: number | ReadonlyMap<string, number>,
    timeoutMs: number,
  ): Promise<number[]>;
  /** Ends every stream and session. */
  close(): void;
}

interface Watcher {
  connectionId: string;
  /** performance.now() when each version was first seen. */
  seen: Map<number, number>;
  /** Called on every new version. */
  onVersion?: () => void;
  failure?: unknown;
}

/** Opens the fleet and resolves once every stream has received its connection's current credential. */
export async function openWatchFleet(options: FleetOptions): Promise<WatchFleet> {
  let isClosed = false;
  const sessions = Array.from({ length: options.sessions }, () => {
    const session = http2.connect(options.baseUrl);
    session.on("error", () => undefined);
    return session;
  });
  const watchers: Watcher[] = [];
  const open = (index: number, connectionId: string): Promise<void> =>
    new Promise<void>((resolveFirst, rejectFirst) => {
      const watcher: Watcher = { connectionId, seen: new Map() };
      watchers.push(watcher);
      const session = sessions[index % sessions.length];
      if (!session) throw new Error("no session");
      const fail = (err: unknown) => {
        if (isClosed) return;
        watcher.failure = err;
        rejectFirst(err);
        watcher.onVersion?.();
      };
      const stream = session.request({
        ":method": "POST",
        ":path": WATCH_PATH,
        "content-type": "application/grpc",
        te: "trailers",
        authorization: options.authorization,
      });
      stream.on("response", (headers) => {
        if (headers[":status"] !== 200 || (headers["grpc-status"] !== undefined && headers["grpc-status"] !== "0")) {
          fail(new Error(`watch stream refused: HTTP ${String(headers[":status"])} grpc-status ${String(headers["grpc-status"])}`));
        }
      });
      stream.on("trailers", (trailers) => {
        if (trailers["grpc-status"] !== "0")
          fail(new Error(`watch stream ended: grpc-status ${String(trailers["grpc-status"])} ${String(trailers["grpc-message"] ?? "")}`));
      });
      stream.on("error", fail);
      // Frames may arrive split or several per chunk: keep what is left of an incomplete one.
      let buffered: Buffer = Buffer.alloc(0);
      stream.on("data", (chunk: Buffer) => {
        const now = performance.now();
        buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
        while (buffered.length >= 5) {
          const length = buffered.readUInt32BE(1);
          if (buffered.length < 5 + length) break;
          const message = fromBinary(WatchCredentialsResponseSchema, buffered.subarray(5, 5 + length));
          buffered = buffered.subarray(5 + length);
          if (message.event.case !== "credential") continue;
          const version = Number(message.event.value.version);
          if (!watcher.seen.has(version)) {
            watcher.seen.set(version, now);
            resolveFirst();
            watcher.onVersion?.();
          }
        }
      });
      stream.end(grpcFrame(toBinary(WatchCredentialsRequestSchema, create(WatchCredentialsRequestSchema, { connectionId }))));
    });

  const total = options.connectionIds.length * options.watchersPerConnection;
  const batch = options.openBatch ?? 500;
  let pending: Promise<void>[] = [];
  let index = 0;
  try {
    for (let round = 0; round < options.watchersPerConnection; round += 1) {
      for (const connectionId of options.connectionIds) {
        pending.push(open(index, connectionId));
        index += 1;
        if (pending.length >= batch) {
          await Promise.all(pending);
          pending = [];
        }
      }
    }
    await Promise.all(pending);
  } catch (err) {
    isClosed = true;
    for (const session of sessions) session.destroy();
    throw err;
  }

  return {
    size: total,
    waitForVersions(expected, startedAtMs, timeoutMs) {
      return new Promise<number[]>((resolve, reject) => {
        let remaining = watchers.length;
        const delays: number[] = [];
        const timer = setTimeout(
          () => reject(new Error(`${remaining} of ${watchers.length} watchers had not seen the new version after ${timeoutMs} ms`)),
          timeoutMs,
        );
        const check = (watcher: Watcher) => {
          if (watcher.failure !== undefined) {
            clearTimeout(timer);
            reject(watcher.failure instanceof Error ? watcher.failure : new Error(String(watcher.failure)));
            return true;
          }
          const want = expected.get(watcher.connectionId) ?? Number.POSITIVE_INFINITY;
          // The first arrival of the expected version or a newer one (a hub may coalesce versions).
          let at: number | undefined;
          for (const [version, time] of watcher.seen) if (version >= want && (at === undefined || time < at)) at = time;
          if (at === undefined) return false;
          delays.push(at - (typeof startedAtMs === "number" ? startedAtMs : (startedAtMs.get(watcher.connectionId) ?? 0)));
          remaining -= 1;
          if (remaining === 0) {
            clearTimeout(timer);
            resolve(delays);
          }
          return true;
        };
        for (const watcher of watchers) {
          if (check(watcher)) continue;
          watcher.onVersion = () => {
            if (check(watcher)) watcher.onVersion = undefined;
          };
        }
      });
    },
    close() {
      isClosed = true;
      for (const session of sessions) session.destroy();
    },
  };
}
