/**
 * Gives a reason to the errors connect-es raises before any interceptor runs (body over the size
 * limit, a bad `connect-timeout-ms`, an unknown compression, a second message on a unary call):
 * they leave its handler as bare codes. A Connect unary error body without an ErrorInfo detail is
 * re-encoded with one, and a gRPC or gRPC-Web error trailer without `grpc-status-details-bin` gets
 * it, so every protocol answers these inputs with a reason. (Connect streaming errors already pass
 * through the interceptors.) The reason is the one errors.ts `withReason` gives any bare error.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import { errorFromJsonBytes, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { findTrailerError, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerParse, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import { ErrorInfoSchema } from "../../gen/nexus/v1/errors_pb.ts";
import { withReason } from "./errors.ts";

/** Connect error bodies are a few hundred bytes; anything larger is passed through untouched. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** Returns `res` with a reason added to a bare error it carries (unary body or gRPC trailers). */
export async function withBareErrorReasons(res: UniversalServerResponse): Promise<UniversalServerResponse> {
  const contentType = res.header?.get("content-type") ?? "";
  if (res.trailer !== undefined && /^application\/grpc(\+|;|$)/i.test(contentType)) {
    return { ...res, body: patchTrailerAfter(res.body, res.trailer) };
  }
  if (res.status !== 200 && /^application\/json(;|$)/i.test(contentType) && res.body !== undefined) {
    return patchConnectUnary(res);
  }
  if (/^application\/grpc-web/i.test(contentType)) return { ...res, body: patchLastEnvelope(res.body, trailerFlag, patchWebTrailer) };
  return res;
}

/**
 * Passes a streaming body through; an envelope with exactly `flag` (the gRPC-Web trailer,
 * uncompressed) goes through `patch`. connect-es yields one envelope per chunk.
 */
async function* patchLastEnvelope(
  body: UniversalServerResponse["body"],
  flag: number,
  patch: (data: Uint8Array) => Uint8Array,
): AsyncGenerator<Uint8Array> {
  if (body === undefined) return;
  for await (const chunk of body instanceof Uint8Array ? [body] : body) {
    const isOneEnvelope = chunk.byteLength >= 5 && chunk[0] === flag && Buffer.from(chunk).readUInt32BE(1) === chunk.byteLength - 5;
    if (!isOneEnvelope) {
      yield chunk;
      continue;
    }
    const data = patch(chunk.subarray(5));
    const head = Buffer.alloc(5);
    head[0] = flag;
    head.writeUInt32BE(data.byteLength, 1);
    yield Buffer.concat([head, data]);
  }
}

/** A gRPC-Web trailer block with grpc-status-details-bin added to an error without one. */
function patchWebTrailer(data: Uint8Array): Uint8Array {
  const trailer = trailerParse(data);
  if (!addDetailsBin(trailer)) return data;
  return trailerSerialize(trailer);
}

function hasErrorInfo(err: ConnectError): boolean {
  return err.details.some((d) => ("desc" in d ? d.desc.typeName : d.type) === ErrorInfoSchema.typeName);
}

/** Adds grpc-status-details-bin (with a reason) to an error trailer lacking it; true if it did. */
function addDetailsBin(trailer: Headers): boolean {
  const status = trailer.get("grpc-status");
  if (status === null || status === "0" || trailer.has("grpc-status-details-bin")) return false;
  const err = findTrailerError(trailer);
  if (err === undefined) return false;
  setTrailerStatus(trailer, withReason(err));
  return true;
}

/** Iterates `body`; once it is done (the handler has set the final status), fills in the details. */
async function* patchTrailerAfter(body: UniversalServerResponse["body"], trailer: Headers): AsyncGenerator<Uint8Array> {
  try {
    if (body !== undefined) {
      if (body instanceof Uint8Array) yield body;
      else yield* body;
    }
  } finally {
    addDetailsBin(trailer);
  }
}

async function patchConnectUnary(res: UniversalServerResponse): Promise<UniversalServerResponse> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (res.body instanceof Uint8Array) chunks.push(res.body);
  else if (res.body !== undefined) {
    for await (const chunk of res.body) {
      chunks.push(chunk);
      size += chunk.byteLength;
      if (size > MAX_ERROR_BODY_BYTES) break;
    }
  }
  const bytes = Buffer.concat(chunks);
  const answer = (body: Uint8Array): UniversalServerResponse => {
    const header = new Headers(res.header);
    header.set("content-length", String(body.byteLength));
    return { ...res, header, body: single(body) };
  };
  if (size > MAX_ERROR_BODY_BYTES) return answer(bytes);
  let err: ConnectError;
  try {
    err = errorFromJsonBytes(bytes, undefined, new ConnectError("", Code.Unknown));
  } catch {
    return answer(bytes);
  }
  if (hasErrorInfo(err)) return answer(bytes);
  return answer(errorToJsonBytes(withReason(err), {}));
}

async function* single(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}
