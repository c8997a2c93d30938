/**
 * The provider API the proxy benchmark calls, in a process of its own: GET /bench/1k and /bench/1m
 * answer 1 KiB and 1 MiB of fixed bytes (with Content-Length) after checking the bearer token the
 * proxy applied (401 otherwise), so both the direct and the proxied load hit exactly the same
 * server and response. Run by `forkChild`, never directly.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pipeline } from "node:stream/promises";
import { Agent } from "undici";
import { serveParent } from "./child-channel.ts";

/** What the bench tells the child. */
export interface ProxyUpstreamChildConfig {
  /** The Authorization header value to require (provider mode), or to add (relay mode). */
  authorization: string;
  /**
   * Relay mode: a bare pass-through to this origin instead of a provider (no auth, store, audit or
   * checks; undici + stream.pipeline, as the proxy relays), the floor any relay costs.
   */
  relayTo?: string;
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
  const relayTo = config.relayTo;
  const agent = new Agent({ keepAliveTimeout: 4_000 });
  const relay = async (req: IncomingMessage, res: ServerResponse) => {
    const upstream = await agent.request({
      origin: relayTo ?? "",
      path: `/bench${(req.url ?? "").replace(/^\/relay/, "")}`,
      method: "GET",
      headers: { authorization: config.authorization },
    });
    res.statusCode = upstream.statusCode;
    for (const [name, value] of Object.entries(upstream.headers)) {
      if (value !== undefined && name !== "connection" && name !== "keep-alive") res.setHeader(name, value);
    }
    await pipeline(upstream.body, res);
  };
  const server = createServer((req, res) => {
    if (relayTo !== undefined) {
      relay(req, res).catch(() => res.destroy());
      return;
    }
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
    await agent.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
}

if (import.meta.main) {
  main(JSON.parse(process.argv[2] ?? "{}") as ProxyUpstreamChildConfig).catch((err: unknown) => {
    process.stderr.write(`proxy upstream child failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
