/**
 * The Node request handler for the RPC protocols: connect-node's adapter (router, path lookup,
 * Node ⇄ universal conversion) plus a check of the input on the wire (binary-input-guard.ts)
 * between the two, which connectNodeAdapter has no hook for, a JSON error body with a reason
 * for connect-es's bare 415, and a reason for its other bare errors (bare-error-reasons.ts). Handler failures go to the logger, not console; a client that went
 * away is no failure. Paths it does not serve go to `fallback`.
 */
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type ConnectRouterOptions,
  type ContextValues,
  createConnectRouter,
} from "@connectrpc/connect";
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import { createAsyncIterable } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { universalResponseToNodeResponse } from "@connectrpc/connect-node";
import { ErrorReason } from "../../gen/nexus/v1/errors_pb.ts";
import type { Logger } from "../logging/logger.ts";
import { withBareErrorReasons } from "./bare-error-reasons.ts";
import { checkGetMessage, framingOf, guardBody, readWholeJson } from "./binary-input-guard.ts";
import { errorWithReason } from "./errors.ts";
import { type NodeServerRequest, quietAbortGate, toUniversalRequest } from "./universal-request.ts";

type NodeRequest = NodeServerRequest;
type NodeResponse = Parameters<typeof universalResponseToNodeResponse>[1];
/** A Node request handler as connect-node types it (HTTP/1.1 and HTTP/2). */
export type NodeHandlerFn = (req: NodeRequest, res: NodeResponse) => void;

/** Options of `createNodeAdapter`: connect-node's, minus what Nexus fixes. */
export interface NodeAdapterOptions extends ConnectRouterOptions {
  routes: (router: ConnectRouter) => void;
  /** Largest message, in bytes (also passed to connect-es as readMaxBytes). */
  readMaxBytes: number;
  contextValues?: (req: NodeRequest, res: NodeResponse) => ContextValues;
  fallback: NodeHandlerFn;
  logger: Logger;
}

/** Creates the handler. */
export function createNodeAdapter(options: NodeAdapterOptions): NodeHandlerFn {
  // The gate keeps connect-es's reason-less abort() after a unary call from building a DOMException (universal-request.ts).
  const router = createConnectRouter({ ...options, requestGate: quietAbortGate });
  options.routes(router);
  const handlers = new Map(router.handlers.map((h) => [h.requestPath, h]));
  return (req, res) => {
    const handler = handlers.get((req.url ?? "").split("?", 1)[0] ?? "");
    if (handler === undefined) {
      // gRPC asks for status 12 in trailers, not an HTTP 404, for a method the server lacks.
      // https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md#responses
      if (GRPC.test(req.headers["content-type"] ?? ""))
        void universalResponseToNodeResponse(grpcUnknownMethod(req.url ?? ""), res).catch(() => undefined);
      else options.fallback(req, res);
      return;
    }
    let uReq = toUniversalRequest(req, res, options.contextValues?.(req, res));
    const input = handler.method.input;
    let early: UniversalServerResponse | Promise<UniversalServerResponse> | undefined;
    if (uReq.method === "GET") {
      const error = checkGetMessage(uReq.url, input);
      if (error !== undefined) early = connectUnaryError(400, error);
    } else {
      const framing = framingOf(uReq.header.get("content-type"));
      if (framing?.framing === "whole" && framing.codec === "json" && handler.method.methodKind === "unary" && isPlainUnary(uReq)) {
        // Parsed once here and handed on as JSON (binary-input-guard.ts: readWholeJson).
        const request = uReq;
        early = readWholeJson(request.body, input, options.readMaxBytes).then(
          (read) => handler({ ...request, body: "json" in read ? read.json : createAsyncIterable(read.bytes) }),
          (err: unknown) => {
            const error = ConnectError.from(err);
            return connectUnaryError(codeToHttpStatus(error.code), error);
          },
        );
      } else if (framing !== undefined) uReq = guardBody(uReq, input, framing, options.readMaxBytes);
    }
    (early !== undefined ? Promise.resolve(early) : handler(uReq))
      .then((uRes) => (uRes.status === 415 ? unsupportedMediaType(uReq) : withBareErrorReasons(uRes)))
      .then((uRes) => universalResponseToNodeResponse(uRes, res))
      .catch((reason: unknown) => {
        // The client went away mid-answer (or cancelled): nothing to report.
        const code = ConnectError.from(reason).code;
        if (code === Code.Aborted || code === Code.Canceled || req.destroyed) return;
        options.logger.error({ err: reason, rpc: `${handler.service.typeName}/${handler.method.name}` }, "rpc handler failed");
      });
  };
}

const GRPC = /^application\/grpc(\+|;|$)/i;

/**
 * A POST without the headers connect-es checks before it reads a unary body (a request encoding, a
 * timeout): only those are parsed ahead, so every other error keeps its precedence.
 */
function isPlainUnary(req: { method: string; header: Headers }): boolean {
  const encoding = req.header.get("content-encoding");
  return req.method === "POST" && (encoding === null || encoding === "identity") && !req.header.has("connect-timeout-ms");
}

function grpcUnknownMethod(url: string): UniversalServerResponse {
  const path = url.split("?", 1)[0]!.slice(0, 200);
  const trailer = new Headers();
  setTrailerStatus(trailer, errorWithReason(`no RPC at ${path}`, Code.Unimplemented, ErrorReason.ROUTE_NOT_FOUND));
  return {
    status: 200,
    header: new Headers({ "content-type": "application/grpc+proto" }),
    body: (async function* () {})(),
    trailer,
  };
}

/**
 * connect-es answers a content type no protocol of the method accepts with a bare 415 (as the
 * Connect and gRPC specs ask); the body adds the code and reason. `unimplemented`: the request may
 * be fine in a media type the server implements, as with 405.
 */
function unsupportedMediaType(req: { header: Headers }): UniversalServerResponse {
  const given = JSON.stringify((req.header.get("content-type") ?? "none").slice(0, 100));
  const message = `unsupported content type ${given}: use application/json, application/proto, application/connect+json|proto, application/grpc[+proto|+json] or application/grpc-web[+proto|+json]`;
  return connectUnaryError(415, errorWithReason(message, Code.Unimplemented, ErrorReason.UNSUPPORTED_MEDIA_TYPE));
}

/** A Connect unary error answer (GET requests are Connect unary by definition). */
function connectUnaryError(status: number, error: ConnectError): UniversalServerResponse {
  const body = errorToJsonBytes(error, {});
  return {
    status,
    header: new Headers({ "content-type": "application/json", "content-length": String(body.byteLength) }),
    body: (async function* () {
      yield body;
    })(),
  };
}
