/**
 * A webhook receiver for tests: a plain HTTP server on 127.0.0.1, port 0, that records every
 * request (headers and raw body) and answers as the test says: a status, or "hang" (never answers,
 * to stage a sender that dies mid-delivery). Test support only.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request the receiver got. */
export interface ReceivedWebhook {
  headers: Record<string, string>;
  body: string;
}

/** A running receiver. */
export interface WebhookReceiver {
  readonly url: string;
  readonly received: ReceivedWebhook[];
  /** How the next requests are answered (default 204). */
  respond: (request: ReceivedWebhook) => number | "hang";
  close(): Promise<void>;
}

/** Starts a receiver. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const hung: ServerResponse[] = [];
  const receiver: WebhookReceiver = {
    url: "",
    received: [],
    respond: () => 204,
    close: async () => {
      for (const res of hung) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
    req.on("end", () => {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : (v ?? "")]));
      const request = { headers, body };
      receiver.received.push(request);
      const answer = receiver.respond(request);
      if (answer === "hang") hung.push(res);
      else res.writeHead(answer).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  (receiver as { url: string }).url = `http://127.0.0.1:${port}/hooks`;
  return receiver;
}
