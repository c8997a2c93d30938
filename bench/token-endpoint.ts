/**
 * A tiny OAuth token endpoint on loopback for the refresh benchmarks: answers every
 * refresh_token grant (RFC 6749 §6) after a fixed delay, like a remote provider would, with a new
 * access token and a rotated refresh token, and counts the grants it served.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

/** The running endpoint. */
export interface TokenEndpoint {
  /** e.g. http://127.0.0.1:41234/token */
  readonly url: string;
  /** refresh_token grants received so far. */
  refreshGrants(): number;
  close(): Promise<void>;
}

/** Starts the endpoint; each answer waits `delayMs` (default 100, a typical provider round trip). */
export async function startTokenEndpoint(options: { delayMs?: number } = {}): Promise<TokenEndpoint> {
  const delayMs = options.delayMs ?? 100;
  let grants = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString());
      if (req.method !== "POST" || form.get("grant_type") !== "refresh_token") {
        res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: "unsupported_grant_type" }));
        return;
      }
      grants += 1;
      const n = grants;
      setTimeout(() => {
        res
          .writeHead(200, { "content-type": "application/json", "cache-control": "no-store" })
          .end(
            JSON.stringify({ access_token: `at-refreshed-${n}`, token_type: "Bearer", expires_in: 3600, refresh_token: `rt-rotated-${n}` }),
          );
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/token`,
    refreshGrants: () => grants,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
