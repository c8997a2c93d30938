/**
 * A local provider API for the proxy tests: it records every request it receives (method, raw
 * target, headers, body hash and length) and answers with what the test's `respond` says (default:
 * 200 with a small JSON body that never echoes a header). Bodies are hashed as they stream, never
 * held, so 100 MB transfers stay flat here too. Also: raw HTTP/1.1 requests whose target is sent
 * exactly as written (fetch would normalise `..` away).
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, request, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request as the upstream saw it. */
export interface RecordedRequest {
  method: string;
  /** The raw request target, e.g. "/base/repos/x?y=1". */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  bodyLength: number;
  bodySha256: string;
}

/** How the upstream answers one request (after its body was read when `keepBody`). */
export type UpstreamResponder = (req: IncomingMessage, res: ServerResponse, recorded: RecordedRequest) => void | Promise<void>;

/** The running upstream. */
export interface ProxyUpstream {
  origin: string;
  port: number;
  readonly requests: RecordedRequest[];
  /** Replaces the answer (default 200 JSON). */
  respond: UpstreamResponder;
  /** Bodies up to this many bytes are kept in `body` (larger ones only hashed). Default 1 MiB. */
  keepBodyBytes: number;
  close(): Promise<void>;
}

const defaultResponder: UpstreamResponder = (_req, res, recorded) => {
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ ok: true, method: recorded.method, bodyLength: recorded.bodyLength }));
};

/** Starts the upstream on a loopback port. */
export async function startProxyUpstream(): Promise<ProxyUpstream> {
  const requests: RecordedRequest[] = [];
  const upstream: ProxyUpstream = {
    origin: "",
    port: 0,
    requests,
    respond: defaultResponder,
    keepBodyBytes: 1024 * 1024,
    close: async () => {},
  };
  const server = createServer((req, res) => {
    const hash = createHash("sha256");
    const kept: Buffer[] = [];
    let length = 0;
    req.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      length += chunk.length;
      if (length <= upstream.keepBodyBytes) kept.push(chunk);
    });
    req.on("end", () => {
      const recorded: RecordedRequest = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(kept),
        bodyLength: length,
        bodySha256: hash.digest("hex"),
      };
      requests.push(recorded);
      Promise.resolve(upstream.respond(req, res, recorded)).catch(() => res.destroy());
    });
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  upstream.port = port;
  upstream.origin = `http://127.0.0.1:${port}`;
  upstream.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return upstream;
}

/** A raw HTTP/1.1 answer. */
export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** Sends a request whose target goes on the wire exactly as `path` is written. */
export function rawRequest(
  baseUrl: string,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer },
): Promise<RawAnswer> {
  const base = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: base.hostname, port: base.port, method: options.method ?? "GET", path: options.path, headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}
