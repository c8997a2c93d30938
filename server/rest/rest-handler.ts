/**
 * Serves the REST paths declared by `(google.api.http)` on the services' methods, read from the
 * descriptors at start-up (no hand-written routes). Each request becomes one unary call through
 * the given Transport, so every server interceptor applies. It must not answer paths no rule
 * declares (the caller does), and it forwards only allow-listed request headers.
 */
import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { DescService, JsonObject, JsonValue, Registry } from "@bufbuild/protobuf";
import { createRegistry } from "@bufbuild/protobuf";
import { reflect } from "@bufbuild/protobuf/reflect";
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import { codeToHttpStatus } from "@connectrpc/connect/protocol-connect";
import { ErrorReason, file_nexus_v1_errors } from "../../gen/nexus/v1/errors_pb.ts";
import { InvalidArgumentError } from "../domain/errors.ts";
import { CLIENT_ADDRESS_HEADER } from "../request/context.ts";
import { errorWithReason, toConnectError } from "../rpc/errors.ts";
import { type HttpRoute, readHttpRules } from "./http-rules.ts";
import { readJsonBody } from "./request-body.ts";
import { RestHttpError, restErrorJson } from "./rest-error.ts";
import { toRestJson } from "./rest-json.ts";
import { buildRestRequest } from "./rest-request.ts";

/** Request headers forwarded to the RPC by default. */
export const DEFAULT_FORWARDED_HEADERS: readonly string[] = ["authorization", "x-api-key", "x-request-id", "user-agent"];

/** The Node requests the handler accepts (HTTP/1.1 and HTTP/2 compatibility API). */
export type RestNodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
/**
 * What the handler needs of a Node response: met by http.ServerResponse, Http2ServerResponse and
 * connect-node's `fallback` response type.
 */
export interface RestNodeResponse {
  statusCode: number;
  readonly headersSent: boolean;
  setHeader(name: string, value: string | number): unknown;
  end(): unknown;
  end(body: string): unknown;
  once(event: "close", listener: () => void): unknown;
  off(event: "close", listener: () => void): unknown;
}

/** Options of `createRestHandler`. */
export interface RestHandlerOptions {
  /** Services whose `(google.api.http)` rules are served. */
  readonly services: readonly DescService[];
  /** Where calls go; pass `createRouterTransport(routes, { router: { interceptors } })`. */
  readonly transport: Transport;
  /**
   * Types for google.protobuf.Any fields and error details (nexus.v1.ErrorInfo): details of a type
   * it knows get a REST JSON `debug` rendering. Default: nexus/v1/errors.proto and the files of
   * `services` (not their imports).
   */
  readonly registry?: Registry;
  /** Largest accepted request body, in bytes (Config.maxBodyBytes); larger bodies get 413. */
  readonly maxBodyBytes: number;
  /** Lower-case request headers passed on to the RPC. Default `DEFAULT_FORWARDED_HEADERS`. */
  readonly forwardHeaders?: readonly string[];
  /** The caller's address, sent to the RPC as `CLIENT_ADDRESS_HEADER`. Default: none sent. */
  readonly clientAddress?: (req: RestNodeRequest) => string;
}

/** A REST front for the services' RPCs. */
export interface RestHandler {
  /**
   * Answers the request when its path matches a rule, and returns true; returns false, having
   * written nothing, when no rule's path matches, so the caller can answer 404.
   * A matching path with another HTTP method gets 405 with `Allow`.
   */
  handle(req: RestNodeRequest, res: RestNodeResponse): Promise<boolean>;
  /** Renders an error as the REST JSON error body (for HTTP-layer answers outside the rules). */
  errorJson(err: ConnectError): JsonObject;
}

// Response headers that belong to the in-process Connect exchange, not to the REST answer.
const HOP_HEADERS = new Set([
  "content-type",
  "content-length",
  "content-encoding",
  "accept-encoding",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "date",
  "te",
  "trailer",
  "upgrade",
]);

/**
 * Creates the REST handler. Reads and checks every rule now.
 * @throws InvalidHttpRuleError (from readHttpRules) for an annotation that cannot be served.
 */
export function createRestHandler(options: RestHandlerOptions): RestHandler {
  const routes = readHttpRules(options.services);
  const registry = options.registry ?? createRegistry(file_nexus_v1_errors, ...options.services.map((s) => s.file));
  const { maxBodyBytes } = options;
  const forwarded = (options.forwardHeaders ?? DEFAULT_FORWARDED_HEADERS)
    .map((h) => h.toLowerCase())
    .filter((h) => h !== CLIENT_ADDRESS_HEADER);

  const requestHeaders = (req: RestNodeRequest): Headers => {
    const headers = new Headers();
    for (const name of forwarded) {
      const value = req.headers[name];
      for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, v);
    }
    const address = options.clientAddress?.(req);
    if (address) headers.set(CLIENT_ADDRESS_HEADER, address);
    return headers;
  };

  const responseJson = (route: HttpRoute, message: Parameters<typeof toRestJson>[1]): JsonValue => {
    const field = route.responseBodyField;
    if (field === undefined || field.fieldKind !== "message") {
      return toRestJson(route.method.output, message, { registry });
    }
    // An unset response_body message renders as {} (its default), never as a missing body.
    const value = reflect(route.method.output, message).get(field);
    return toRestJson(field.message, value.message, { registry });
  };

  const serve = async (route: HttpRoute, bindings: Map<string, string>, query: string, req: RestNodeRequest, res: RestNodeResponse) => {
    const abort = new AbortController();
    const onClose = () => abort.abort(new ConnectError("client closed the request", Code.Canceled));
    res.once("close", onClose);
    try {
      const body = await readJsonBody(req, maxBodyBytes);
      const input = buildRestRequest(route, { bindings, query, body }, registry);
      const response = await options.transport.unary(route.method, abort.signal, undefined, requestHeaders(req), input);
      copyHeaders(res, response.header);
      copyHeaders(res, response.trailer);
      sendJson(res, 200, responseJson(route, response.message));
    } catch (err) {
      if (err instanceof RestHttpError) {
        sendError(res, err.status, err.toConnectError(), registry, err.headers);
      } else if (err instanceof ConnectError) {
        copyHeaders(res, err.metadata);
        sendError(res, codeToHttpStatus(err.code), err, registry);
      } else if (err instanceof InvalidArgumentError) {
        sendError(res, 400, toConnectError(err).error, registry);
      } else {
        throw err; // a bug here: the caller logs it and answers 500
      }
    } finally {
      res.off("close", onClose);
    }
  };

  return {
    async handle(req, res) {
      const url = req.url ?? "/";
      const q = url.indexOf("?");
      const rawPath = q === -1 ? url : url.slice(0, q);
      const query = q === -1 ? "" : url.slice(q + 1);
      const method = (req.method ?? "GET").toUpperCase();
      const allowed = new Set<string>();
      for (const route of routes) {
        let bindings: Map<string, string> | undefined;
        try {
          bindings = route.template.match(rawPath);
        } catch (err) {
          if (!(err instanceof URIError)) throw err;
          const field = (err as URIError & { field?: string }).field;
          const malformed =
            field === undefined
              ? errorWithReason("malformed percent-encoding in URL path", Code.InvalidArgument, ErrorReason.MALFORMED_REQUEST)
              : toConnectError(new InvalidArgumentError(field, "must be valid UTF-8 without control characters")).error;
          sendError(res, 400, malformed, registry);
          return true;
        }
        if (bindings === undefined) continue;
        if (route.httpMethod === method) {
          await serve(route, bindings, query, req, res);
          return true;
        }
        allowed.add(route.httpMethod);
      }
      if (allowed.size === 0) return false;
      const allow = [...allowed].sort().join(", ");
      const message = `method ${method} is not allowed on this path; allowed: ${allow}`;
      // grpc-gateway answers a method mismatch the same way: 405 with code unimplemented.
      sendError(res, 405, errorWithReason(message, Code.Unimplemented, ErrorReason.METHOD_NOT_ALLOWED), registry, { allow });
      return true;
    },
    errorJson: (err) => restErrorJson(err, registry),
  };
}

function copyHeaders(res: RestNodeResponse, headers: Headers): void {
  if (res.headersSent) return;
  headers.forEach((value, name) => {
    if (HOP_HEADERS.has(name) || name.startsWith("connect-") || name.startsWith("grpc-")) return;
    res.setHeader(name, value);
  });
}

function sendError(
  res: RestNodeResponse,
  status: number,
  err: ConnectError,
  registry: Registry,
  headers: Record<string, string> = {},
): void {
  for (const [name, value] of Object.entries(headers)) if (!res.headersSent) res.setHeader(name, value);
  sendJson(res, status, restErrorJson(err, registry));
}

function sendJson(res: RestNodeResponse, status: number, json: JsonValue): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = JSON.stringify(json);
  res.statusCode = status;
  res.setHeader("content-type", "application/json");
  res.setHeader("content-length", Buffer.byteLength(body));
  res.end(body);
}
