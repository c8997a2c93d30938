/**
 * CORS for browser clients (Connect, gRPC-Web and REST) from an allowlist of exact origins
 * (NEXUS_CORS_ORIGINS). Allowed origins get the CORS response headers and their preflights are
 * answered here with the headers those protocols send; any other origin gets no CORS header at all
 * (its preflight a bare 403), so the browser blocks the call. It never allows credentials (cookies):
 * the API authenticates with a bearer key the page sets explicitly.
 * @see https://fetch.spec.whatwg.org/#http-cors-protocol
 * @see https://connectrpc.com/docs/cors/
 */
import type { NodeRequest } from "./endpoints.ts";

/** The part of a response CORS touches. */
export interface CorsResponse {
  setHeader(name: string, value: string): unknown;
  writeHead(statusCode: number, headers: Record<string, string>): unknown;
  end(): unknown;
}

/**
 * Applies CORS to a request: sets the headers for an allowed origin and returns false (handle the
 * request as usual), or answers a preflight itself and returns true.
 */
export type CorsHandler = (req: NodeRequest, res: CorsResponse) => boolean;

/** Request headers browsers may send: Connect, gRPC-Web, REST and our own. */
export const CORS_ALLOWED_HEADERS: readonly string[] = [
  "authorization",
  "x-api-key",
  "content-type",
  "x-request-id",
  "connect-protocol-version",
  "connect-timeout-ms",
  "connect-accept-encoding",
  "connect-content-encoding",
  "x-grpc-web",
  "x-user-agent",
  "grpc-timeout",
  "grpc-accept-encoding",
  "grpc-encoding",
];

/** Response headers a page may read: status trailers of gRPC-Web, request id, rate-limit hint. */
export const CORS_EXPOSED_HEADERS: readonly string[] = [
  "grpc-status",
  "grpc-message",
  "grpc-status-details-bin",
  "grpc-encoding",
  "connect-content-encoding",
  "x-request-id",
  "retry-after",
  "www-authenticate",
  // Marks Nexus's own refusals on the proxy route (client/nexus-proxy.ts tells them from provider answers by it).
  "x-nexus-proxy-refusal",
];

const ALLOWED_METHODS = "GET, POST, PATCH, DELETE";
/** How long browsers may cache a preflight answer, in seconds (Chromium caps it at 7200). */
const PREFLIGHT_MAX_AGE_SECONDS = "7200";

/** Creates the CORS handler for exact origins such as `https://app.example.com`. */
export function createCors(origins: readonly string[]): CorsHandler {
  const allowed = new Set(origins);
  return (req, res) => {
    const origin = header(req, "origin");
    const isPreflight = req.method === "OPTIONS" && origin !== undefined && header(req, "access-control-request-method") !== undefined;
    if (origin === undefined || allowed.size === 0) {
      if (!isPreflight) return false;
    }
    const isAllowed = origin !== undefined && allowed.has(origin);
    if (isPreflight) {
      if (!isAllowed) {
        res.writeHead(403, { vary: "origin", "content-length": "0" });
        res.end();
        return true;
      }
      res.writeHead(204, {
        "access-control-allow-origin": origin,
        "access-control-allow-methods": ALLOWED_METHODS,
        "access-control-allow-headers": CORS_ALLOWED_HEADERS.join(", "),
        "access-control-max-age": PREFLIGHT_MAX_AGE_SECONDS,
        vary: "origin, access-control-request-method, access-control-request-headers",
        "content-length": "0",
      });
      res.end();
      return true;
    }
    // Answers differ by Origin, so shared caches must key on it even when no header is added.
    res.setHeader("vary", "origin");
    if (isAllowed) {
      res.setHeader("access-control-allow-origin", origin);
      res.setHeader("access-control-expose-headers", CORS_EXPOSED_HEADERS.join(", "));
    }
    return false;
  };
}

function header(req: NodeRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
