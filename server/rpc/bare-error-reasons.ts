/**
 * Gives a reason to the errors connect-es raises before any interceptor runs (body over the size
 * limit, a bad `connect-timeout-ms`, an unknown compression, a second message on a unary call):
 * they leave its handler as bare codes. A Connect unary error body without an ErrorInfo detail is
 * re-encoded with one, and a gRPC error trailer without `grpc-status-details-bin` gets it, so every
 * protocol answers these inputs with a reason as it does all others.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import { errorFromJsonBytes, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { findTrailerError, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { ErrorInfoSchema, ErrorReason } from "../../gen/nexus/v1/errors_pb.ts";
import { errorWithReason, reasonForCode } from "./errors.ts";

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
  return res;
}

/** The reason a bare connect-es error gets: its code's, except for protocol violations. */
function bareError(err: ConnectError): ConnectError {
  // "protocol error: received extra input message for unary method" and the like: the client's framing.
  const reason = err.rawMessage.startsWith("protocol error") ? ErrorReason.MALFORMED_REQUEST : reasonForCode(err.code);
  const withInfo = errorWithReason(err.rawMessage, err.code, reason);
  withInfo.details.push(...err.details);
  return withInfo;
}

/** Iterates `body`; once it is done (the handler has set the final status), fills in the details. */
async function* patchTrailerAfter(body: UniversalServerResponse["body"], trailer: Headers): AsyncGenerator<Uint8Array> {
  try {
    if (body !== undefined) {
      if (body instanceof Uint8Array) yield body;
      else yield* body;
    }
  } finally {
    const status = trailer.get("grpc-status");
    if (status !== null && status !== "0" && !trailer.has("grpc-status-details-bin")) {
      const err = findTrailerError(trailer);
      if (err !== undefined) setTrailerStatus(trailer, bareError(err));
    }
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
  if (err.details.some((d) => ("desc" in d ? d.desc.typeName : d.type) === ErrorInfoSchema.typeName)) return answer(bytes);
  return answer(errorToJsonBytes(bareError(err), {}));
}

async function* single(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}
