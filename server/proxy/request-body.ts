/**
 * The body of a proxied request: none, held in memory (a signing strategy signs it; a small one
 * with Content-Length can be replayed after a 401), or streamed through a byte-limit counter.
 */
import type * as http from "node:http";
import type * as http2 from "node:http2";
import { type Readable, Transform, type TransformCallback } from "node:stream";
import { BodyTooLargeError, readLimitedBody } from "../http/read-limited-body.ts";
import { tooLarge, untilAborted } from "./proxy-errors.ts";
import { headerValue } from "./proxy-headers.ts";

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;

/** Byte limits of a request body. */
export interface RequestBodyLimits {
  maxRequestBytes: number;
  maxSignedBodyBytes: number;
  replayBufferBytes: number;
}

export type OutgoingBody =
  | { bytes: Uint8Array; replayable: boolean }
  | { stream: Readable; counter: ByteLimit; length: number | undefined; replayable: false };

/** Counts bytes passing through and fails the stream once more than `limit` have passed. */
export class ByteLimit extends Transform {
  exceeded = false;
  private seen = 0;
  private readonly limit: number;
  private readonly onBytes: (n: number) => void;
  constructor(limit: number, onBytes: (n: number) => void) {
    super();
    this.limit = limit;
    this.onBytes = onBytes;
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) {
      this.exceeded = true;
      callback(new Error(`body larger than ${this.limit} bytes`));
      return;
    }
    this.onBytes(chunk.length);
    callback(null, chunk);
  }
}

/**
 * The body to send: buffered (signing strategies, small replayable bodies) or a counted stream.
 * `counts.bytesIn` gets the bytes read.
 */
export async function requestBody(
  req: NodeRequest,
  limits: RequestBodyLimits,
  isSigned: boolean,
  counts: { bytesIn: number },
  signal: AbortSignal,
): Promise<OutgoingBody> {
  const { maxRequestBytes, maxSignedBodyBytes, replayBufferBytes } = limits;
  const declared = contentLength(req);
  const hasNoBody = declared === 0 || (declared === undefined && !mayHaveUndeclaredBody(req));
  if (hasNoBody) return { bytes: new Uint8Array(0), replayable: true };
  if (declared !== undefined && declared > maxRequestBytes) throw tooLarge(413, "the request body", maxRequestBytes);
  if (isSigned || (declared !== undefined && declared <= replayBufferBytes)) {
    const limit = isSigned ? Math.min(maxSignedBodyBytes, maxRequestBytes) : replayBufferBytes;
    if (declared !== undefined && declared > limit) throw tooLarge(413, "a signed request body", limit);
    try {
      // The total timeout bounds a caller that stalls mid-body too (nothing else would on HTTP/2).
      const bytes = await untilAborted(readLimitedBody(req, limit), signal);
      counts.bytesIn = bytes.length;
      return { bytes, replayable: true };
    } catch (err) {
      if (err instanceof BodyTooLargeError) throw tooLarge(413, isSigned ? "a signed request body" : "the request body", limit);
      throw err;
    }
  }
  const counter = new ByteLimit(maxRequestBytes, (n) => {
    counts.bytesIn += n;
  });
  return { stream: req, counter, length: declared, replayable: false };
}

export function isBodilessMethod(method: string): boolean {
  return method === "GET" || method === "HEAD" || method === "OPTIONS" || method === "DELETE" || method === "TRACE";
}

/**
 * Whether a request without Content-Length may still have a body: HTTP/1.1 only with
 * Transfer-Encoding (RFC 9112 §6.3), HTTP/2 unless its HEADERS frame ended the stream.
 */
function mayHaveUndeclaredBody(req: NodeRequest): boolean {
  if ("stream" in req && req.stream !== undefined) return !req.stream.endAfterHeaders;
  return req.headers["transfer-encoding"] !== undefined;
}

function contentLength(req: NodeRequest): number | undefined {
  const value = headerValue(req.headers["content-length"]);
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}
