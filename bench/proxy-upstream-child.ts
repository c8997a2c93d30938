/**
 * The provider API the proxy benchmark calls, in a process of its own: GET /bench/1k and /bench/1m
 * answer 1 KiB and 1 MiB of fixed bytes (with Content-Length) after checking the bearer token the
 * proxy applied (401 otherwise), so both the direct and the proxied load hit exactly the same
 * server and response. Run by `forkChild`, never directly.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { serveParent } from "./child-channel.ts";

/** What the bench tells the child. */
export interface ProxyUpstreamChildConfig {
  /** The Authorization header value to require. */
  authorization: string;
}

/** What the child reports once listening. */
export interface ProxyUpstreamChildReady {
  port: number;
}

/** The script to fork. */
export const PROXY_UPSTREAM_CHILD_SCRIPT = import.meta.filename;

const BODIES: Record<string, Buffer> = {
  "/bench/1k": Buffer.alloc(1024, "a"),
  "/bench/1m": Buffer.alloc(1024 * 1024, "b"),
};

async function main(config: ProxyUpstreamChildConfig): Promise<void> {
  const server = createServer((req, res) => {
    const body = BODIES[req.url ?? ""];
    if (req.headers.authorization !== config.authorization) {
      res.writeHead(401, { "content-length": "0" }).end();
      return;
    }
    if (body === undefined) {
      res.writeHead(404, { "content-length": "0" }).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(body.length) });
    res.end(body);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  serveParent({ port: (server.address() as AddressInfo).port } satisfies ProxyUpstreamChildReady, {}, async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
}

if (import.meta.main) {
  main(JSON.parse(process.argv[2] ?? "{}") as ProxyUpstreamChildConfig).catch((err: unknown) => {
    process.stderr.write(`proxy upstream child failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
