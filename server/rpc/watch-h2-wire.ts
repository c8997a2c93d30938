/**
 * The wire of a WatchCredentials call served on the dedicated HTTP/2 path (watch-h2.ts): which
 * requests it takes (`watchProtocolOf`), and how the answer is written for each protocol, with
 * connect-es's own serialisers so the bytes are those connect-node would send: the response
 * headers with the first message, messages in the 5-byte envelope, and the end as gRPC HTTP/2
 * trailers, a gRPC-Web trailer frame, or a Connect end-stream message.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { createEndStreamSerialization, endStreamFlag, parseTimeout as parseConnectTimeout } from "@connectrpc/connect/protocol-connect";
import { parseTimeout as parseGrpcTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";

/** The procedure served on the dedicated path. */
export const WATCH_PATH = "/nexus.v1.TokenService/WatchCredentials";

/** What a request asks for, read from its headers. */
export interface WatchProtocol {
  protocol: "grpc" | "grpc-web" | "connect";
  codec: "proto" | "json";
  /** The content type connect-es answers with (responseHeader's initial value). */
  responseType: string;
  timeoutMs: number | undefined;
}

const CONTENT_TYPE = /^application\/(grpc|grpc-web|connect)(?:\+(proto|json))?$/;

/**
 * The protocol of a request this path fully understands, or undefined: then connect-node answers it
 * (other methods, paths, content types or parameters, request compression, a malformed timeout, a
 * browser's CORS request, an expectation).
 */
export function watchProtocolOf(headers: IncomingHttpHeaders, maxTimeoutMs: number): WatchProtocol | undefined {
  return protocolOf(headers, WATCH_PATH, false, maxTimeoutMs);
}

const UNARY_CONTENT_TYPE = /^application\/(proto|json)$/;

/**
 * The same for a unary procedure at `path` (unary-h2.ts): gRPC and gRPC-Web as for a watch, and
 * Connect unary POST (application/proto or application/json, the body the bare message); then
 * protocol "connect" means Connect unary. Connect GET stays with connect-node.
 */
export function unaryProtocolOf(headers: IncomingHttpHeaders, path: string, maxTimeoutMs: number): WatchProtocol | undefined {
  return protocolOf(headers, path, true, maxTimeoutMs);
}

function protocolOf(headers: IncomingHttpHeaders, path: string, isUnary: boolean, maxTimeoutMs: number): WatchProtocol | undefined {
  if (headers[":method"] !== "POST" || headers[":path"] !== path) return undefined;
  if (headers.origin !== undefined || headers.expect !== undefined || headers["content-encoding"] !== undefined) return undefined;
  const contentType = headers["content-type"] ?? "";
  if (isUnary) {
    const unary = UNARY_CONTENT_TYPE.exec(contentType);
    if (unary !== null) {
      const timeout = parseConnectTimeout(single(headers["connect-timeout-ms"]), maxTimeoutMs);
      if (timeout.error !== undefined) return undefined;
      const codec = unary[1] as WatchProtocol["codec"];
      return { protocol: "connect", codec, responseType: `application/${codec}`, timeoutMs: timeout.timeoutMs };
    }
  }
  const type = CONTENT_TYPE.exec(contentType);
  if (type === null) return undefined;
  const protocol = type[1] as WatchProtocol["protocol"];
  const codec = type[2] === "json" ? "json" : "proto";
  if (protocol === "connect") {
    if (isUnary || type[2] === undefined || !isIdentity(headers["connect-content-encoding"])) return undefined;
    const timeout = parseConnectTimeout(single(headers["connect-timeout-ms"]), maxTimeoutMs);
    if (timeout.error !== undefined) return undefined;
    return { protocol, codec, responseType: `application/connect+${codec}`, timeoutMs: timeout.timeoutMs };
  }
  if (!isIdentity(headers["grpc-encoding"])) return undefined;
  const timeout = parseGrpcTimeout(single(headers["grpc-timeout"]), maxTimeoutMs);
  if (timeout.error !== undefined) return undefined;
  return { protocol, codec, responseType: `application/${protocol}+${codec}`, timeoutMs: timeout.timeoutMs };
}

function isIdentity(value: string | string[] | undefined): boolean {
  return value === undefined || value === "identity";
}

function single(value: string | string[] | undefined): string | null {
  return typeof value === "string" ? value : null;
}

/** One message in the 5-byte envelope all three protocols share. */
export function envelope(flags: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + payload.byteLength);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, payload.byteLength);
  out.set(payload, 5);
  return out;
}

/** Sends the response headers (status 200 and `header`) unless sent; false when the stream is gone. */
export function sendHeaders(stream: ServerHttp2Stream, protocol: WatchProtocol, header: Headers): boolean {
  if (stream.destroyed || stream.closed) return false;
  if (stream.headersSent) return true;
  // gRPC ends with HTTP trailers; gRPC-Web and Connect end in the body.
  stream.respond(nodeHeaders(header, { ":status": 200 }), { waitForTrailers: protocol.protocol === "grpc" });
  return true;
}

/**
 * Ends the stream with `err` (undefined: success) as connect-es ends each protocol's stream
 * (transformCatchFinally in its handler factories): anything not a ConnectError is Internal.
 */
export function endStream(
  stream: ServerHttp2Stream,
  protocol: WatchProtocol,
  header: Headers,
  trailer: Headers,
  err: unknown,
  jsonOptions: Parameters<typeof createEndStreamSerialization>[0],
): void {
  const error =
    err === undefined
      ? undefined
      : err instanceof ConnectError
        ? err
        : new ConnectError("internal error", Code.Internal, undefined, undefined, err);
  if (!sendHeaders(stream, protocol, header)) return;
  if (protocol.protocol === "connect") {
    stream.end(envelope(endStreamFlag, createEndStreamSerialization(jsonOptions).serialize({ metadata: trailer, error })));
    return;
  }
  if (error !== undefined) setTrailerStatus(trailer, error);
  if (protocol.protocol === "grpc-web") {
    stream.end(envelope(trailerFlag, trailerSerialize(trailer)));
    return;
  }
  stream.once("wantTrailers", () => {
    if (!stream.destroyed) stream.sendTrailers(nodeHeaders(trailer, {}));
  });
  stream.end();
}

/** Web Headers as Node's outgoing headers (set-cookie kept apart, as connect-node does). */
export function nodeHeaders(header: Headers, into: OutgoingHttpHeaders): OutgoingHttpHeaders {
  header.forEach((value, key) => {
    into[key] = value;
  });
  const cookies = header.getSetCookie();
  if (cookies.length > 0) into["set-cookie"] = cookies;
  return into;
}

/** connect-es's copyHeaders: `to` becomes `from` (nothing to do when they are one object). */
export function copyHeaders(from: Headers, to: Headers): void {
  if (from === to) return;
  for (const key of [...to.keys()]) to.delete(key);
  from.forEach((value, key) => {
    to.set(key, value);
  });
}
