/**
 * A Node request as connect-es's universal server request, built as connect-node's
 * `universalRequestFromNodeRequest` builds it (same URL, headers, body iterator and abort causes),
 * except for the reason its signal carries once the request is over. connect-node calls
 * `AbortController.abort()` without a reason when a request closes, and connect-es's handlers call
 * `context.abort()` without one when a unary call ends (the Connect handler's `finally`, the gRPC
 * handler's end of output): each builds a DOMException, whose stack capture was one of the top
 * self-time items of GetToken (bench/README.md). Here a request that closed normally aborts with one
 * shared, pre-built reason (SETTLED), and `quietAbortGate`, the router's request gate, gives a
 * unary call's reason-less `context.abort()` that reason too (or the signal's own, once aborted).
 * Abnormal ends (a reset stream, a socket error) abort as connect-node does.
 */
import type * as http from "node:http";
import * as http2 from "node:http2";
import { Code, ConnectError, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import type { UniversalServerRequest } from "@connectrpc/connect/protocol";

/** The Node requests the adapter serves (HTTP/1.1 and HTTP/2 compatibility API). */
export type NodeServerRequest = http.IncomingMessage | http2.Http2ServerRequest;
/** What is needed of their responses: the close event (HTTP/1.1). */
export interface NodeServerResponse {
  once(event: "close", listener: () => void): unknown;
  off(event: "close", listener: () => void): unknown;
}

/**
 * The reason of a call that ended normally. Built once: it is never thrown to a client (the call
 * has answered), and code that looks at the signal afterwards sees a Canceled call, as with
 * connect-node's own reason-less abort (an AbortError, which the error interceptor also treats as
 * the client's).
 */
export const SETTLED = new ConnectError("the call has ended", Code.Canceled);

/**
 * connect-es's request gate (it receives the very HandlerContext the handler later aborts). For a
 * unary call, `abort()` without a reason aborts with SETTLED, or passes the signal's own reason once
 * it is aborted (a second abort changes nothing), so Node builds no DOMException per call;
 * connect-es's deadline timer is cleared as before. A given reason passes through, and streaming
 * calls keep connect-es's own abort.
 */
export function quietAbortGate(context: HandlerContext): void {
  if (context.method.methodKind !== "unary") return;
  // connect-es hands the gate its context controller (HandlerContext plus `abort`, a closure).
  const controller = context as HandlerContext & { abort?: (reason?: unknown) => void };
  const abort = controller.abort;
  if (typeof abort !== "function") return;
  const { signal } = context;
  controller.abort = (reason?: unknown) => abort(reason !== undefined ? reason : signal.aborted ? signal.reason : SETTLED);
}

/**
 * Converts a Node request; `res` is watched for HTTP/1.1 (Node closes the request as soon as its
 * body is read: https://github.com/nodejs/node/issues/40775).
 */
export function toUniversalRequest(
  req: NodeServerRequest,
  res: NodeServerResponse,
  contextValues: ContextValues | undefined,
): UniversalServerRequest {
  const encrypted = "encrypted" in req.socket && req.socket.encrypted === true;
  const authority = "authority" in req ? req.authority : req.headers.host;
  if (authority === undefined) throw new ConnectError("unable to determine request authority from Node.js server request", Code.Internal);
  const controller = new AbortController();
  if ("stream" in req) {
    req.once("close", () => {
      if (controller.signal.aborted) return;
      const error = h2ResetError(req.stream.rstCode);
      if (error !== undefined) controller.abort(error);
      // A stream that ended without an error code: a finished answer, or a client that stopped
      // reading after the end (connect-node aborts without a reason here).
      else controller.abort(SETTLED);
    });
  } else {
    const onError = (err: Error) => {
      req.off("error", onError);
      res.off("close", onClose);
      if (!controller.signal.aborted) controller.abort(ConnectError.from(err, Code.Aborted));
    };
    const onClose = () => {
      req.off("error", onError);
      res.off("close", onClose);
      if (controller.signal.aborted) return;
      if (req.errored) controller.abort(ConnectError.from(req.errored, Code.Aborted));
      else controller.abort(SETTLED);
    };
    req.once("error", onError);
    res.once("close", onClose);
  }
  return {
    httpVersion: req.httpVersion,
    method: req.method ?? "",
    url: new URL(req.url ?? "", `${encrypted ? "https" : "http"}://${authority}`).toString(),
    header: webHeaders(req.headers),
    body: req.iterator({ destroyOnReturn: false }),
    signal: controller.signal,
    contextValues,
  };
}

/** Node's request headers as web Headers (pseudo-headers left out), as connect-node converts them. */
export function webHeaders(nodeHeaders: http.IncomingHttpHeaders): Headers {
  const header = new Headers();
  for (const [name, value] of Object.entries(nodeHeaders)) {
    if (name.startsWith(":") || value === undefined) continue;
    if (typeof value === "string") header.append(name, value);
    else if (typeof value === "number") header.append(name, String(value));
    else for (const v of value) header.append(name, v);
  }
  return header;
}

const { constants } = http2;

/** The Connect error for an HTTP/2 reset code, as connect-node maps them; undefined for none. */
export function h2ResetError(rstCode: number): ConnectError | undefined {
  const code = RST_CODES.get(rstCode);
  if (code === undefined) return undefined;
  return new ConnectError(`http/2 stream closed with error code 0x${rstCode.toString(16)}`, code);
}

// STREAM_CLOSED (0x5) and NO_ERROR are not errors: https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md#errors
const RST_CODES = new Map<number, Code>([
  [constants.NGHTTP2_PROTOCOL_ERROR, Code.Internal],
  [constants.NGHTTP2_INTERNAL_ERROR, Code.Internal],
  [constants.NGHTTP2_FLOW_CONTROL_ERROR, Code.Internal],
  [constants.NGHTTP2_SETTINGS_TIMEOUT, Code.Internal],
  [constants.NGHTTP2_FRAME_SIZE_ERROR, Code.Internal],
  [constants.NGHTTP2_COMPRESSION_ERROR, Code.Internal],
  [constants.NGHTTP2_CONNECT_ERROR, Code.Internal],
  [constants.NGHTTP2_REFUSED_STREAM, Code.Unavailable],
  [constants.NGHTTP2_CANCEL, Code.Canceled],
  [constants.NGHTTP2_ENHANCE_YOUR_CALM, Code.ResourceExhausted],
  [constants.NGHTTP2_INADEQUATE_SECURITY, Code.PermissionDenied],
  [constants.NGHTTP2_HTTP_1_1_REQUIRED, Code.PermissionDenied],
]);
