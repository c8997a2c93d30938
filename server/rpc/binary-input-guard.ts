/**
 * Checks binary (protobuf) request messages before connect-es parses them, so that malformed input
 * is InvalidArgument, as it is for JSON. connect-es reports a protobuf that does not parse, and an
 * envelope flagged compressed without a negotiated encoding, as Internal (HTTP 500 / grpc-status
 * 13): that would make a client's garbage look like a server fault. It only reads the bytes as they
 * stream in (per envelope, or the whole body of Connect unary proto) and never changes them; bodies
 * over the size limit pass through untouched for connect-es to refuse with ResourceExhausted.
 * Costs one extra protobuf parse per binary message (requests are small).
 */
import { fromBinary, type DescMessage } from "@bufbuild/protobuf";
import { base64Decode } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalServerRequest } from "@connectrpc/connect/protocol";

/** How a request's binary messages are framed, from its content type; undefined: nothing to check. */
export type BinaryFraming = "whole" | "enveloped";

const ENVELOPED = /^application\/(grpc|grpc\+proto|grpc-web|grpc-web\+proto|connect\+proto)(;|$)/i;
const WHOLE = /^application\/proto(;|$)/i;

/** The framing of the request's body, or undefined for JSON and other content types. */
export function binaryFramingOf(contentType: string | null): BinaryFraming | undefined {
  if (contentType === null) return undefined;
  if (WHOLE.test(contentType)) return "whole";
  if (ENVELOPED.test(contentType)) return "enveloped";
  return undefined;
}

/**
 * Returns the request with its body wrapped so that the first malformed message fails the body
 * stream with InvalidArgument (connect-es turns that into the protocol's error answer).
 */
export function guardBinaryBody(req: UniversalServerRequest, input: DescMessage, framing: BinaryFraming, maxBytes: number): UniversalServerRequest {
  if (!isByteStream(req.body)) return req;
  const body = framing === "whole" ? checkWhole(req.body, input, maxBytes) : checkEnvelopes(req.body, input, maxBytes);
  return { ...req, body };
}

/**
 * Checks a Connect GET request's `message` query parameter when it is protobuf (`encoding=proto`);
 * returns the error to answer with, or undefined when it parses (or is not protobuf).
 */
export function checkGetMessage(url: string, input: DescMessage): ConnectError | undefined {
  const query = new URL(url, "http://x").searchParams;
  if (query.get("encoding") !== "proto" || (query.get("compression") ?? "identity") !== "identity") return undefined;
  const message = query.get("message") ?? "";
  let bytes: Uint8Array;
  try {
    bytes = query.get("base64") === "1" ? base64Decode(message) : new TextEncoder().encode(message);
  } catch {
    return new ConnectError("invalid base64 in message parameter", Code.InvalidArgument);
  }
  return parseError(input, bytes);
}

function isByteStream(body: UniversalServerRequest["body"]): body is AsyncIterable<Uint8Array> {
  return typeof body === "object" && body !== null && Symbol.asyncIterator in body;
}

function parseError(input: DescMessage, bytes: Uint8Array): ConnectError | undefined {
  try {
    fromBinary(input, bytes);
    return undefined;
  } catch (err) {
    return new ConnectError(`invalid protobuf message: ${err instanceof Error ? err.message : String(err)}`, Code.InvalidArgument);
  }
}

async function* checkWhole(body: AsyncIterable<Uint8Array>, input: DescMessage, maxBytes: number): AsyncGenerator<Uint8Array> {
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
  const error = parseError(input, bytes);
  if (error !== undefined) throw error;
  yield bytes;
}

async function* checkEnvelopes(body: AsyncIterable<Uint8Array>, input: DescMessage, maxBytes: number): AsyncGenerator<Uint8Array> {
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
      // Bit 0: compressed. Nexus negotiates no request compression (see app.ts), so it is never valid.
      if ((flags & 0x01) !== 0) throw new ConnectError("compressed message without a negotiated encoding", Code.InvalidArgument);
      // Other flags mark trailers/end-of-stream frames that a request does not carry: connect-es decides.
      if (flags === 0) {
        const error = parseError(input, pending.subarray(5, 5 + length));
        if (error !== undefined) throw error;
      }
      yield pending.subarray(0, 5 + length);
      pending = pending.subarray(5 + length);
    }
    if (isPassThrough) {
      yield pending;
      pending = Buffer.alloc(0);
    }
  }
  if (pending.length > 0) yield pending; // an incomplete envelope: connect-es reports it (InvalidArgument)
}
