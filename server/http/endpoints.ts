/**
 * Plain HTTP endpoints beside the RPCs: /healthz (the process is up), /readyz (dependencies answer),
 * /metrics (Prometheus text), and the JSON 404 for anything nobody handles. They are the adapter's
 * fallback, so they never shadow an RPC path. Health and readiness are public (probes carry no
 * credentials); /metrics asks for a bearer token when one is configured (NEXUS_METRICS_TOKEN).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type * as http from "node:http";
import type * as http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Registry } from "prom-client";
import { ErrorInfoSchema, ErrorReason } from "../../gen/nexus/v1/errors_pb.ts";

/** A request as the one-port listener hands it over (HTTP/1.1 or HTTP/2). */
export type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;

/**
 * The part of a response (HTTP/1.1 or HTTP/2, or connect-node's view of either) these endpoints
 * use. Structural, because the two Node response classes have incompatible overloads.
 */
export interface NodeResponse {
  readonly headersSent: boolean;
  setHeader(name: string, value: string): unknown;
  writeHead(statusCode: number, headers: Record<string, string>): unknown;
  end(): unknown;
  end(chunk: string): unknown;
}

/** What /readyz asks; resolves true when the dependency answers. */
export type ReadinessCheck = () => Promise<boolean>;

/**
 * Renders an error as the JSON body REST answers carry (`{"code","message","details"}` with the
 * ErrorInfo detail); app.ts passes the REST handler's, so every HTTP-layer refusal looks alike.
 */
export type ErrorJson = (err: ConnectError) => unknown;

/** Handler for the plain endpoints; resolves true when it answered the request. */
export type EndpointHandler = (req: NodeRequest, res: NodeResponse) => Promise<boolean>;

/** Creates the handler for /healthz, /readyz and /metrics. */
export function createEndpoints(deps: {
  registry: Registry;
  checks: Readonly<Record<string, ReadinessCheck>>;
  /** False once shutdown starts, so load balancers stop sending traffic before the drain. */
  isAcceptingTraffic: () => boolean;
  /** When set, /metrics requires `Authorization: Bearer <metricsToken>`. */
  metricsToken?: string;
  errorJson: ErrorJson;
  /** Awaited before /metrics is answered (the process metrics, registered after listen, are in). */
  beforeMetrics?: () => Promise<unknown>;
}): EndpointHandler {
  const { errorJson } = deps;
  const expected = deps.metricsToken === undefined ? undefined : digest(deps.metricsToken);
  return async (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const isRead = req.method === "GET" || req.method === "HEAD";
    switch (path) {
      case "/healthz":
        if (!isRead) return methodNotAllowed(res, errorJson);
        sendJson(res, 200, { status: "ok" });
        return true;
      case "/readyz": {
        if (!isRead) return methodNotAllowed(res, errorJson);
        const results: Record<string, string> = {};
        let ready = deps.isAcceptingTraffic();
        if (!ready) results.server = "shutting_down";
        for (const [name, check] of Object.entries(deps.checks)) {
          const ok = await check().catch(() => false);
          results[name] = ok ? "ok" : "unavailable";
          ready &&= ok;
        }
        sendJson(res, ready ? 200 : 503, { status: ready ? "ready" : "not_ready", checks: results });
        return true;
      }
      case "/metrics": {
        if (!isRead) return methodNotAllowed(res, errorJson);
        if (expected !== undefined && !hasToken(req, expected)) {
          res.setHeader("www-authenticate", 'Bearer realm="metrics"');
          const message = "metrics require the metrics token as a bearer token";
          // A token that is there but wrong is invalid, as for API keys; none at all is missing.
          const reason = req.headers.authorization === undefined ? ErrorReason.API_KEY_MISSING : ErrorReason.API_KEY_INVALID;
          sendJson(res, 401, errorJson(withReason(message, Code.Unauthenticated, reason)));
          return true;
        }
        await deps.beforeMetrics?.();
        const body = await deps.registry.metrics();
        res.writeHead(200, { "content-type": deps.registry.contentType });
        res.end(body);
        return true;
      }
      default:
        return false;
    }
  };
}

/** Answers 404 (reason ROUTE_NOT_FOUND) with a JSON error naming the path (without its query). */
export function sendNotFound(req: NodeRequest, res: NodeResponse, errorJson: ErrorJson): void {
  const path = (req.url ?? "/").split("?")[0] ?? "/";
  const message = `no route for ${req.method ?? "?"} ${path.length > 200 ? `${path.slice(0, 200)}…` : path}`;
  sendJson(res, 404, errorJson(withReason(message, Code.NotFound, ErrorReason.ROUTE_NOT_FOUND)));
}

// Built here, not with rpc/errors.ts: the plain endpoints sit below the RPC layer.
function withReason(message: string, code: Code, reason: ErrorReason): ConnectError {
  return new ConnectError(message, code, undefined, [{ desc: ErrorInfoSchema, value: { reason } }]);
}

/** Compares digests, so neither the token's length nor its content leaks through timing. */
function hasToken(req: NodeRequest, expected: Buffer): boolean {
  const header = req.headers.authorization;
  const match = typeof header === "string" ? /^bearer +(\S+) *$/i.exec(header) : null;
  return match?.[1] !== undefined && timingSafeEqual(digest(match[1]), expected);
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

function methodNotAllowed(res: NodeResponse, errorJson: ErrorJson): true {
  res.setHeader("allow", "GET, HEAD");
  sendJson(res, 405, errorJson(withReason("method not allowed; use GET", Code.Unimplemented, ErrorReason.METHOD_NOT_ALLOWED)));
  return true;
}

function sendJson(res: NodeResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}
