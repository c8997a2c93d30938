/**
 * Checks request messages on the wire before connect-es parses them, so that malformed input is
 * InvalidArgument with an ErrorInfo reason on every protocol. connect-es reports a protobuf that does
 * not parse, and an envelope flagged compressed without a negotiated encoding, as Internal; it
 * accepts envelope flags a request may not carry (0x02 end-stream, 0x80 gRPC-Web trailers: gRPC's
 * Compressed-Flag is 0 or 1) and decodes invalid UTF-8 in JSON as U+FFFD. It only reads the bytes
 * as they stream in (per envelope, or the whole body of Connect unary) and never changes them;
 * bodies over the size limit pass through untouched for connect-es to refuse with
 * ResourceExhausted. A Connect unary JSON body is read and parsed here once and handed to connect-es
 * as parsed JSON (`readWholeJson`), so it is not decoded and parsed a second time; other messages
 * cost one extra protobuf parse (connect-es takes no parsed message; requests are small).
 * Whether one message parses, and the error it answers, is message-checks.ts's; this file frames.
 */
import { type DescMessage, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { base64Decode } from "@bufbuild/protobuf/wire";
import { Code, type ConnectError } from "@connectrpc/connect";
import type { UniversalServerRequest } from "@connectrpc/connect/protocol";
import { ErrorReason } from "../../gen/nexus/v1/errors_pb.ts";
import { jsonUtf8Error } from "../services/request-fields.ts";
import { errorWithReason, toConnectError } from "./errors.ts";
import { jsonError, malformed, parseError } from "./message-checks.ts";

/** How a request's messages are framed and encoded, from its content type. */
export interface Framing {
  readonly framing: "whole" | "enveloped";
  readonly codec: "proto" | "json";
}

const ENVELOPED = /^application\/(grpc|grpc-web|connect)(\+(proto|json))?(;|$)/i;
const WHOLE = /^application\/(proto|json)(;|$)/i;

/** The framing of the request's body, or undefined for content types no protocol accepts. */
export function framingOf(contentType: string | null): Framing | undefined {
  if (contentType === null) return undefined;
  const whole = WHOLE.exec(contentType);
  if (whole !== null) return { framing: "whole", codec: whole[1]!.toLowerCase() === "json" ? "json" : "proto" };
  const enveloped = ENVELOPED.exec(contentType);
  // "application/connect" alone is no protocol's content type; grpc and grpc-web default to proto.
  if (enveloped === null || (enveloped[1]!.toLowerCase() === "connect" && enveloped[3] === undefined)) return undefined;
  return { framing: "enveloped", codec: enveloped[3]?.toLowerCase() === "json" ? "json" : "proto" };
}

/**
 * Returns the request with its body wrapped so that the first malformed message fails the body
 * stream with InvalidArgument (connect-es turns that into the protocol's error answer).
 */
export function guardBody(req: UniversalServerRequest, input: DescMessage, framing: Framing, maxBytes: number): UniversalServerRequest {
  if (!isByteStream(req.body)) return req;
  const check = (bytes: Uint8Array) => (framing.codec === "json" ? jsonError(input, bytes) : parseError(input, bytes));
  const body = framing.framing === "whole" ? checkWhole(req.body, check, maxBytes) : checkEnvelopes(req.body, check, maxBytes);
  return { ...req, body };
}

/**
 * Reads a Connect unary JSON body (framing "whole", codec "json") to its end and checks it as
 * `guardBody` would. Resolves to the parsed JSON when it is a valid message, for connect-es to take
 * as is (it then only converts it, with the same options); to the bytes as read when they are empty
 * or over `maxBytes` (connect-es's business, as in `guardBody`). Rejects with the InvalidArgument
 * `guardBody` would fail the body with.
 */
export async function readWholeJson(
  body: UniversalServerRequest["body"],
  input: DescMessage,
  maxBytes: number,
): Promise<{ json: JsonValue } | { bytes: Uint8Array[] }> {
  if (!isByteStream(body)) throw new Error("readWholeJson needs a byte stream");
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.byteLength;
  }
  if (size === 0 || size > maxBytes) return { bytes: chunks };
  const bytes = Buffer.concat(chunks);
  const utf8 = jsonUtf8Error(bytes, input);
  if (utf8 !== undefined) throw toConnectError(utf8).error;
  const text = new TextDecoder().decode(bytes);
  let json: JsonValue;
  try {
    json = JSON.parse(text) as JsonValue;
    fromJson(input, json, { ignoreUnknownFields: false });
  } catch {
    // The same message and reason as for a body checked on the way through.
    throw jsonError(input, bytes) ?? malformed("invalid JSON message", undefined);
  }
  return { json };
}

/**
 * Checks a Connect GET request's `message` query parameter when it is protobuf (`encoding=proto`);
 * returns the error to answer with, or undefined when it parses (or is not protobuf).
 */
export function checkGetMessage(url: string, input: DescMessage): ConnectError | undefined {
  const search = new URL(url, "http://x").search.slice(1);
  const query = new URLSearchParams(search);
  const encoding = query.get("encoding");
  if ((encoding !== "proto" && encoding !== "json") || (query.get("compression") ?? "identity") !== "identity") return undefined;
  // URLSearchParams turns percent-encoded bytes that are not UTF-8 into U+FFFD: read the raw bytes.
  const raw =
    search
      .split("&")
      .find((pair) => pair.startsWith("message="))
      ?.slice("message=".length) ?? "";
  let bytes: Uint8Array;
  try {
    bytes = query.get("base64") === "1" ? base64Decode(query.get("message") ?? "") : percentDecode(raw);
  } catch {
    return errorWithReason("invalid base64 in message parameter", Code.InvalidArgument, ErrorReason.MALFORMED_REQUEST, {
      field: "message",
    });
  }
  return encoding === "json" ? jsonError(input, bytes) : parseError(input, bytes);
}

function percentDecode(raw: string): Uint8Array {
  const out: number[] = [];
  const text = Buffer.from(raw.replaceAll("+", " "), "utf8");
  for (let i = 0; i < text.length; i++) {
    const hex = text[i] === 0x25 ? text.subarray(i + 1, i + 3).toString("latin1") : "";
    if (/^[0-9a-fA-F]{2}$/.test(hex)) {
      out.push(parseInt(hex, 16));
      i += 2;
    } else out.push(text[i]!);
  }
  return Uint8Array.from(out);
}

function isByteStream(body: UniversalServerRequest["body"]): body is AsyncIterable<Uint8Array> {
  return typeof body === "object" && body !== null && Symbol.asyncIterator in body;
}

type Check = (bytes: Uint8Array) => ConnectError | undefined;

async function* checkWhole(body: AsyncIterable<Uint8Array>, check: Check, maxBytes: number): AsyncGenerator<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let isOversized = false;
  for await (const chunk of body) {
    if (isOversized) {
      yield chunk;
      continue;
    }
    chunks.push(chunk);
    size += chunk.byteLength;
    if (size > maxBytes) {
      isOversized = true;
      yield* chunks;
    }
  }
  if (isOversized) return;
  const bytes = Buffer.concat(chunks);
  const error = check(bytes);
  if (error !== undefined) throw error;
  yield bytes;
}

async function* checkEnvelopes(body: AsyncIterable<Uint8Array>, check: Check, maxBytes: number): AsyncGenerator<Uint8Array> {
  let pending = Buffer.alloc(0);
  let isPassThrough = false;
  for await (const chunk of body) {
    if (isPassThrough) {
      yield chunk;
      continue;
    }
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 5) {
      const flags = pending[0]!;
      const length = pending.readUInt32BE(1);
      if (length > maxBytes) {
        // connect-es refuses it (ResourceExhausted) without reading it all; so do we.
        isPassThrough = true;
        break;
      }
      if (pending.length < 5 + length) break;
      // gRPC's Compressed-Flag is 0 or 1; 0x02 (Connect end-stream) and 0x80 (gRPC-Web trailers)
      // only travel from server to client. A reserved bit is a protocol error, never a message.
      // https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md#requests
      if ((flags & ~0x01) !== 0) {
        const hex = `0x${flags.toString(16).padStart(2, "0")}`;
        throw errorWithReason(
          `protocol error: envelope flags ${hex} are not allowed in a request (only 0x00, or 0x01 when compressed)`,
          Code.InvalidArgument,
          ErrorReason.MALFORMED_REQUEST,
        );
      }
      // Bit 0: compressed. Nexus negotiates no request compression (see app.ts), so it is never valid.
      if (flags === 0x01)
        throw errorWithReason("compressed message without a negotiated encoding", Code.InvalidArgument, ErrorReason.MALFORMED_REQUEST);
      const error = check(pending.subarray(5, 5 + length));
      if (error !== undefined) throw error;
      yield pending.subarray(0, 5 + length);
      pending = pending.subarray(5 + length);
    }
    if (isPassThrough) {
      yield pending;
      pending = Buffer.alloc(0);
    }
  }
  if (pending.length > 0 && !isPassThrough)
    throw errorWithReason("protocol error: incomplete envelope", Code.InvalidArgument, ErrorReason.MALFORMED_REQUEST);
}
