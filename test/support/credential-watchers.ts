/**
 * WatchCredentials seen from outside, two ways: the typed connect-node client (gRPC over HTTP/2),
 * and the Connect streaming protocol by hand over HTTP/1.1 fetch (request body = 1 flag byte +
 * 4-byte big-endian length + JSON; response = the same envelopes, the last flagged 0x02 with the
 * end-of-stream JSON). Both record every event with its arrival time, so tests can check order,
 * duplicates and delivery latency the same way.
 */
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ConnectionStatus } from "../../gen/nexus/v1/status_pb.ts";
import { TokenService } from "../../gen/nexus/v1/tokens_pb.ts";

/** One event a watcher received. */
export interface WatchRecord {
  type: "credential" | "status" | "heartbeat";
  /** Arrival, epoch milliseconds. */
  atMs: number;
  version?: number;
  accessToken?: string;
  expiresAtSeconds?: number;
  /** Lower-case status name ("attention_required"), for status events. */
  status?: string;
  reason?: string;
}

/** A running watch stream. */
export interface CredentialWatcher {
  /** Events so far, in arrival order (a live array). */
  readonly events: readonly WatchRecord[];
  /** Resolves when the stream ends: null for a clean end, else the Connect code ("failed_precondition"). */
  readonly ended: Promise<string | null>;
  /** Resolves with the first event (already received or future) matching `match`; rejects after `timeoutMs`. */
  next(match: (event: WatchRecord) => boolean, timeoutMs?: number): Promise<WatchRecord>;
  /** Versions of the credential events, in arrival order. */
  versions(): number[];
  /** Cancels the stream. */
  stop(): void;
}

/** Where and as whom to watch. */
export interface WatchTarget {
  baseUrl: string;
  /** Agent API key secret. */
  apiKey: string;
}

/** Watches with the typed connect-node client over gRPC (HTTP/2). */
export function watchTyped(target: WatchTarget, connectionId: string, afterVersion = 0): CredentialWatcher {
  const bearer: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${target.apiKey}`);
    return next(req);
  };
  const client = createClient(TokenService, createGrpcTransport({ baseUrl: target.baseUrl, interceptors: [bearer] }));
  const controller = new AbortController();
  const recorder = createRecorder(controller);
  const run = async (): Promise<string | null> => {
    try {
      for await (const res of client.watchCredentials(
        { connectionId, afterVersion: BigInt(afterVersion) },
        { signal: controller.signal },
      )) {
        const atMs = Date.now();
        const event = res.event;
        if (event.case === "credential") {
          const fields = event.value.credentials;
          recorder.push({
            type: "credential",
            atMs,
            version: Number(event.value.version),
            accessToken: typeof fields?.access_token === "string" ? fields.access_token : undefined,
            expiresAtSeconds: Number(event.value.expiresAt),
          });
        } else if (event.case === "status") {
          recorder.push({ type: "status", atMs, status: statusName(event.value.status), reason: event.value.reason });
        } else if (event.case === "heartbeat") {
          recorder.push({ type: "heartbeat", atMs });
        }
      }
      return null;
    } catch (error) {
      return connectCode(ConnectError.from(error).code);
    }
  };
  return recorder.watcher(run());
}

/**
 * Watches with hand-made Connect streaming envelopes over HTTP/1.1 fetch, as curl would:
 * `curl --http1.1 -H 'content-type: application/connect+json' --data-binary @envelope …`.
 */
export function watchRaw(target: WatchTarget, connectionId: string, afterVersion = 0): CredentialWatcher {
  const controller = new AbortController();
  const recorder = createRecorder(controller);
  const run = async (): Promise<string | null> => {
    const json = Buffer.from(JSON.stringify({ connectionId, afterVersion: String(afterVersion) }));
    const head = Buffer.alloc(5);
    head.writeUInt32BE(json.length, 1);
    let res: Response;
    try {
      res = await fetch(`${target.baseUrl}/nexus.v1.TokenService/WatchCredentials`, {
        method: "POST",
        headers: { "content-type": "application/connect+json", authorization: `Bearer ${target.apiKey}` },
        body: Buffer.concat([head, json]),
        signal: controller.signal,
      });
    } catch {
      return "canceled";
    }
    if (res.status !== 200 || res.headers.get("content-type") !== "application/connect+json") {
      throw new Error(`WatchCredentials over HTTP/1.1 answered ${res.status} ${res.headers.get("content-type")}: ${await res.text()}`);
    }
    let buffered = Buffer.alloc(0);
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffered = Buffer.concat([buffered, chunk]);
        const atMs = Date.now();
        while (buffered.length >= 5 && buffered.length >= 5 + buffered.readUInt32BE(1)) {
          const flags = buffered[0]!;
          const message = JSON.parse(buffered.subarray(5, 5 + buffered.readUInt32BE(1)).toString()) as Record<string, unknown>;
          buffered = buffered.subarray(5 + buffered.readUInt32BE(1));
          if (flags & 0x02) {
            const error = message.error as { code?: string } | undefined;
            return error?.code ?? null;
          }
          recorder.push(rawRecord(message, atMs));
        }
      }
    } catch {
      return "canceled";
    }
    throw new Error("the stream ended without an end-of-stream envelope");
  };
  return recorder.watcher(run());
}

/** A WatchCredentialsResponse in Connect JSON (int64 as strings, enums by name). */
function rawRecord(message: Record<string, unknown>, atMs: number): WatchRecord {
  const credential = message.credential as { version?: string; expiresAt?: string; credentials?: Record<string, unknown> } | undefined;
  if (credential !== undefined) {
    const token = credential.credentials?.access_token;
    return {
      type: "credential",
      atMs,
      version: Number(credential.version ?? 0),
      accessToken: typeof token === "string" ? token : undefined,
      expiresAtSeconds: Number(credential.expiresAt ?? 0),
    };
  }
  const status = message.status as { status?: string; reason?: string } | undefined;
  if (status !== undefined) {
    return {
      type: "status",
      atMs,
      status: String(status.status ?? "")
        .replace(/^CONNECTION_STATUS_/, "")
        .toLowerCase(),
      reason: status.reason ?? "",
    };
  }
  if (message.heartbeat !== undefined) return { type: "heartbeat", atMs };
  throw new Error(`unexpected watch message ${JSON.stringify(Object.keys(message))}`);
}

function createRecorder(controller: AbortController) {
  const events: WatchRecord[] = [];
  const waiters = new Set<{ match: (event: WatchRecord) => boolean; resolve: (event: WatchRecord) => void }>();
  return {
    push(event: WatchRecord) {
      events.push(event);
      for (const waiter of waiters) {
        if (waiter.match(event)) {
          waiters.delete(waiter);
          waiter.resolve(event);
        }
      }
    },
    watcher(ended: Promise<string | null>): CredentialWatcher {
      return {
        events,
        ended,
        next(match, timeoutMs = 10_000) {
          const seen = events.find(match);
          if (seen !== undefined) return Promise.resolve(seen);
          return new Promise<WatchRecord>((resolve, reject) => {
            const timer = setTimeout(() => {
              waiters.delete(waiter);
              reject(
                new Error(
                  `no matching watch event within ${timeoutMs} ms; got ${JSON.stringify(events.map((e) => [e.type, e.version ?? e.status]))}`,
                ),
              );
            }, timeoutMs);
            const waiter = {
              match,
              resolve: (event: WatchRecord) => {
                clearTimeout(timer);
                resolve(event);
              },
            };
            waiters.add(waiter);
          });
        },
        versions: () => events.filter((e) => e.type === "credential").map((e) => e.version!),
        stop: () => controller.abort(),
      };
    },
  };
}

/** "ATTENTION_REQUIRED" → "attention_required". */
function statusName(value: number): string {
  const entry = Object.entries(ConnectionStatus).find(([, v]) => v === value);
  return (entry?.[0] ?? String(value)).toLowerCase();
}

/** connect-es Code → the Connect protocol's string ("FailedPrecondition" → "failed_precondition"). */
export function connectCode(code: Code): string {
  return (Code[code] ?? String(code)).replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}
