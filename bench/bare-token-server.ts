/**
 * The baseline every ratio is measured against: a bare connect-node server (no auth, store, vault,
 * audit or interceptors) serving TokenService.GetToken with the exact response Nexus gave, and
 * WatchCredentials streaming from an in-memory EventEmitter. HTTP/2 cleartext for gRPC/Connect,
 * a plain HTTP/1.1 server for the REST comparison. Beside it, the physical floor: bare `node:http2`
 * and `node:http` handlers that read the request and write the same response bytes, pre-encoded
 * (no framework at all). Run by `forkChild`, never directly.
 *
 * Plus the physical floor of the fan-out: raw `node:http2` (no connect-node), WatchCredentials
 * answered on the stream API with each credential event encoded once per connection and the same
 * gRPC frame written to every stream of that connection, 500 streams per event-loop turn.
 */
import { EventEmitter, on } from "node:events";
import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create, fromBinary, fromJson, type JsonValue, toBinary, toJsonString } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { type Credential, CredentialSchema } from "../gen/nexus/v1/credential_pb.ts";
import {
  GetTokenResponseSchema,
  TokenService,
  WatchCredentialsRequestSchema,
  WatchCredentialsResponseSchema,
} from "../gen/nexus/v1/tokens_pb.ts";
import { serveParent, settledRss } from "./child-channel.ts";

/** What the bench gives the baseline. */
export interface BareChildConfig {
  /** A GetTokenResponse as Nexus answered it (proto JSON): the baseline sends the same bytes. */
  getTokenResponse: JsonValue;
}

/** Where the baseline listens. */
export interface BareChildReady {
  /** HTTP/2 cleartext (gRPC, Connect). */
  h2Port: number;
  /** HTTP/1.1 (Connect GET, the REST comparison). */
  h1Port: number;
  /** The floor: raw node:http2 answering gRPC and Connect JSON with pre-encoded bytes. */
  rawH2Port: number;
  /** The floor over HTTP/1.1: raw node:http answering any GET with the pre-encoded JSON. */
  rawH1Port: number;
  /** Raw node:http2, WatchCredentials only (gRPC, encode-once fan-out): the floor. */
  floorPort: number;
}

/** The script to fork. */
export const BARE_CHILD_SCRIPT = import.meta.filename;

async function main(config: BareChildConfig): Promise<void> {
  const response = fromJson(GetTokenResponseSchema, config.getTokenResponse);
  const template = response.credential ?? create(CredentialSchema);
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const versions = new Map<string, bigint>();
  const credentialOf = (connectionId: string): Credential =>
    create(CredentialSchema, { ...template, connectionId, version: versions.get(connectionId) ?? template.version });

  const routes = (router: ConnectRouter) =>
    router.service(TokenService, {
      getToken: () => response,
      async *watchCredentials(req, ctx) {
        // Subscribe before sending the current credential, as Nexus does, so nothing is missed.
        const updates = on(events, req.connectionId, { signal: ctx.signal });
        yield { event: { case: "credential", value: credentialOf(req.connectionId) } };
        try {
          for await (const [credential] of updates) yield { event: { case: "credential", value: credential as Credential } };
        } catch (err) {
          if (!ctx.signal.aborted) throw err;
        }
      },
    });
  const adapter = connectNodeAdapter({ routes });
  const h2 = http2.createServer(adapter);
  const h1 = http.createServer(adapter);
  const raw = rawServers(response);
  const floor = createFloorServer(credentialOf);
  events.on("rotated", (id: string) => floor.publish(id));
  const servers = [h2, h1, raw.h2, raw.h1, floor.server];
  await Promise.all(servers.map((server) => new Promise<void>((r) => server.listen(0, "127.0.0.1", r))));
  const port = (server: { address(): unknown }) => (server.address() as AddressInfo).port;
  serveParent(
    {
      h2Port: port(h2),
      h1Port: port(h1),
      rawH2Port: port(raw.h2),
      rawH1Port: port(raw.h1),
      floorPort: port(floor.server),
    } satisfies BareChildReady,
    {
      rss: () => settledRss(),
      cpu: () => {
        const usage = process.cpuUsage();
        return usage.user + usage.system;
      },
      rotate: async (args) => {
        const started = performance.now();
        const savedAtMs: number[] = [];
        const saved: number[] = [];
        for (const id of args as string[]) {
          // One event per event-loop turn, as the Nexus child saves them (nexus-child.ts).
          await new Promise<void>((resolve) => setImmediate(resolve));
          savedAtMs.push(performance.timeOrigin + performance.now());
          const version = (versions.get(id) ?? template.version) + 1n;
          versions.set(id, version);
          events.emit(id, credentialOf(id));
          events.emit("rotated", id);
          saved.push(Number(version));
        }
        return { versions: saved, savedAtMs, elapsedMs: performance.now() - started };
      },
    },
    async () => {
      h1.closeAllConnections();
      raw.h1.closeAllConnections();
      floor.close();
      await Promise.all(servers.map((server) => new Promise((r) => server.close(r))));
    },
  );
}

/**
 * The physical floor of GetToken: the request is read to its end, then the response Nexus gave is
 * written as pre-encoded bytes (gRPC: one frame and the OK trailers; Connect JSON and GET: the JSON).
 */
function rawServers(response: Parameters<typeof toBinary<typeof GetTokenResponseSchema>>[1]) {
  const message = toBinary(GetTokenResponseSchema, response);
  const grpcFrame = Buffer.alloc(5 + message.length);
  grpcFrame.writeUInt32BE(message.length, 1);
  grpcFrame.set(message, 5);
  const json = Buffer.from(toJsonString(GetTokenResponseSchema, response));
  const h2 = http2.createServer();
  h2.on("stream", (stream, headers) => {
    const isGrpc = String(headers["content-type"] ?? "").startsWith("application/grpc");
    stream.on("data", () => {});
    stream.on("error", () => {});
    stream.once("end", () => {
      if (stream.destroyed) return;
      if (isGrpc) {
        stream.respond({ ":status": 200, "content-type": "application/grpc+proto" }, { waitForTrailers: true });
        stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0", "grpc-message": "" }));
        stream.end(grpcFrame);
      } else {
        stream.respond({ ":status": 200, "content-type": "application/json", "content-length": json.length });
        stream.end(json);
      }
    });
  });
  const h1 = http.createServer((req, res) => {
    req.resume();
    req.once("end", () => {
      res.writeHead(200, { "content-type": "application/json", "content-length": json.length });
      res.end(json);
    });
  });
  return { h2, h1 };
}

/** Streams written per event-loop turn by the floor (a measured ~20 % lower p99 than one loop). */
const FLOOR_STREAMS_PER_TURN = 500;

/**
 * The raw node:http2 fan-out: per stream only the stream itself in a per-connection set; per
 * event one encoding, then the same bytes to every stream.
 */
function createFloorServer(credentialOf: (connectionId: string) => Credential) {
  const streams = new Map<string, Set<http2.ServerHttp2Stream>>();
  const server = http2.createServer();
  const frameOf = (connectionId: string): Buffer => {
    const payload = toBinary(
      WatchCredentialsResponseSchema,
      create(WatchCredentialsResponseSchema, { event: { case: "credential", value: credentialOf(connectionId) } }),
    );
    const out = Buffer.allocUnsafe(5 + payload.byteLength);
    out[0] = 0;
    out.writeUInt32BE(payload.byteLength, 1);
    out.set(payload, 5);
    return out;
  };
  server.on("stream", (stream) => {
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", () => undefined);
    stream.on("end", () => {
      const body = Buffer.concat(chunks);
      const connectionId = fromBinary(WatchCredentialsRequestSchema, body.subarray(5)).connectionId;
      let set = streams.get(connectionId);
      if (set === undefined) {
        set = new Set();
        streams.set(connectionId, set);
      }
      const watchers = set;
      watchers.add(stream);
      stream.once("close", () => watchers.delete(stream));
      stream.respond({ ":status": 200, "content-type": "application/grpc" });
      stream.write(frameOf(connectionId));
    });
  });
  return {
    server,
    publish(connectionId: string) {
      const set = streams.get(connectionId);
      if (set === undefined) return;
      const bytes = frameOf(connectionId);
      const all = [...set];
      const writeFrom = (start: number) => {
        const end = Math.min(all.length, start + FLOOR_STREAMS_PER_TURN);
        for (let i = start; i < end; i += 1) {
          const stream = all[i];
          if (stream !== undefined && !stream.destroyed) stream.write(bytes);
        }
        if (end < all.length) setImmediate(writeFrom, end);
      };
      writeFrom(0);
    },
    close() {
      for (const set of streams.values()) for (const stream of set) stream.close();
      streams.clear();
    },
  };
}

if (import.meta.main) {
  main(JSON.parse(process.argv[2] ?? "{}") as BareChildConfig).catch((err: unknown) => {
    process.stderr.write(`bare bench child failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
