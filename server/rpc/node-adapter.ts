/**
 * The Node request handler for the RPC protocols: connect-node's adapter (router, path lookup,
 * Node ⇄ universal conversion) plus a check of binary input (binary-input-guard.ts) between the
 * two, which connectNodeAdapter has no hook for. Handler failures go to the logger, not console.
 * Paths it does not serve go to `fallback`.
 */
import { Code, ConnectError, createConnectRouter, type ConnectRouter, type ConnectRouterOptions, type ContextValues } from "@connectrpc/connect";
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import { errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";

import type { Logger } from "../logging/logger.ts";
import { binaryFramingOf, checkGetMessage, guardBinaryBody } from "./binary-input-guard.ts";

type NodeRequest = Parameters<typeof universalRequestFromNodeRequest>[0];
type NodeResponse = Parameters<typeof universalResponseToNodeResponse>[1];
/** A Node request handler as connect-node types it (HTTP/1.1 and HTTP/2). */
export type NodeHandlerFn = (req: NodeRequest, res: NodeResponse) => void;

/** Options of `createNodeAdapter`: connect-node's, minus what Nexus fixes. */
export interface NodeAdapterOptions extends ConnectRouterOptions {
  routes: (router: ConnectRouter) => void;
  /** Largest message, in bytes (also passed to connect-es as readMaxBytes). */
  readMaxBytes: number;
  contextValues?: (req: NodeRequest) => ContextValues;
  fallback: NodeHandlerFn;
  logger: Logger;
}

/** Creates the handler. */
export function createNodeAdapter(options: NodeAdapterOptions): NodeHandlerFn {
  const router = createConnectRouter(options);
  options.routes(router);
  const handlers = new Map(router.handlers.map((h) => [h.requestPath, h]));
  return (req, res) => {
    const handler = handlers.get((req.url ?? "").split("?", 1)[0] ?? "");
    if (handler === undefined) {
      options.fallback(req, res);
      return;
    }
    let uReq = universalRequestFromNodeRequest(req, res, undefined, options.contextValues?.(req));
    const input = handler.method.input;
    let early: UniversalServerResponse | undefined;
    if (uReq.method === "GET") {
      const error = checkGetMessage(uReq.url, input);
      if (error !== undefined) early = connectUnaryError(error);
    } else {
      const framing = binaryFramingOf(uReq.header.get("content-type"));
      if (framing !== undefined) uReq = guardBinaryBody(uReq, input, framing, options.readMaxBytes);
    }
    (early !== undefined ? Promise.resolve(early) : handler(uReq))
      .then((uRes) => universalResponseToNodeResponse(uRes, res))
      .catch((reason: unknown) => {
        // The client went away mid-answer: nothing to report.
        if (ConnectError.from(reason).code === Code.Aborted) return;
        options.logger.error({ err: reason, rpc: `${handler.service.typeName}/${handler.method.name}` }, "rpc handler failed");
      });
  };
}

/** A Connect unary error answer (GET requests are Connect unary by definition). */
function connectUnaryError(error: ConnectError): UniversalServerResponse {
  const body = errorToJsonBytes(error, {});
  return {
    status: 400,
    header: new Headers({ "content-type": "application/json", "content-length": String(body.byteLength) }),
    body: (async function* () {
      yield body;
    })(),
  };
}
