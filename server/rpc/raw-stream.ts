/**
 * The raw wire of a WatchCredentials call for the fan-out (server/services/watch-fanout.ts): the
 * HTTP/2 stream or HTTP/1.1 response under connect-node's adapter, and the codec its content type
 * asks for. gRPC, gRPC-Web and Connect streaming frame messages alike; only a POST with one of
 * their streaming content types gets a sink (anything else stays with connect-es, which answers it).
 */
import type { Http2ServerResponse } from "node:http2";
import type { RawStreamSink } from "../request/context.ts";

/** The procedures served through the fan-out. */
export const FANOUT_PATH = "/nexus.v1.TokenService/WatchCredentials";

const STREAMING = /^application\/(?:grpc|grpc-web|connect)(?:\+(proto|json))?\s*(?:;|$)/i;

/** The sink of this request, or undefined when it is not a streaming WatchCredentials call. */
export function rawStreamOf(
  req: { method?: string | undefined; url?: string | undefined; headers: Record<string, string | string[] | undefined> },
  res: object,
): RawStreamSink | undefined {
  if (req.method !== "POST" || (req.url ?? "").split("?", 1)[0] !== FANOUT_PATH) return undefined;
  const type = req.headers["content-type"];
  const match = typeof type === "string" ? STREAMING.exec(type) : null;
  if (match === null) return undefined;
  // application/connect needs +proto or +json; bare grpc and grpc-web mean proto.
  if (match[1] === undefined && /^application\/connect/i.test(type as string)) return undefined;
  const codec = match[1]?.toLowerCase() === "json" ? "json" : "proto";
  const body = "stream" in res ? (res as Http2ServerResponse).stream : (res as RawStreamSink["body"]);
  return { codec, body };
}
