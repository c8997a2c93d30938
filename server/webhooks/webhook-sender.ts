/**
 * One webhook POST under the target rules: the host is resolved and checked where the socket is
 * opened (pinned lookup; an IP literal is checked before connecting), redirects are not followed
 * (a 3xx is a failure), the connection and the whole exchange have time limits, and at most
 * `maxResponseBytes` of the answer are read (and discarded: only the status matters). No agent is
 * shared, so no pooled socket outlives the check that opened it.
 */
import http from "node:http";
import https from "node:https";
import { WebhookTargetNotAllowedError } from "../domain/errors.ts";
import { hostAddress, pinnedLookup, type TargetRules } from "./target-policy.ts";

/** Limits of one attempt. */
export interface SendLimits {
  /** Longest wait for the TCP (and TLS) connection, ms. */
  connectTimeoutMs: number;
  /** Longest wait for the whole attempt (connect, send, response headers and capped body), ms. */
  timeoutMs: number;
  /** Most response bytes read before the connection is cut. */
  maxResponseBytes: number;
}

/** What one attempt came to. `error` is a short fact for the failure list, never a header or body. */
export type SendOutcome = { isDelivered: true; statusCode: number } | { isDelivered: false; statusCode: number | null; error: string };

/** Sends one webhook; never throws (every failure is an outcome). */
export type WebhookSender = (url: string, headers: Record<string, string>, body: string, signal?: AbortSignal) => Promise<SendOutcome>;

/** Options of `createWebhookSender`. */
export interface WebhookSenderOptions extends SendLimits {
  rules: TargetRules;
  /** Extra CA certificates for https targets (tests with a self-signed receiver). Default: Node's. */
  ca?: string | Buffer;
}

/** Creates the sender. */
export function createWebhookSender(options: WebhookSenderOptions): WebhookSender {
  const lookup = pinnedLookup(options.rules);
  return (text, headers, body, signal) =>
    new Promise<SendOutcome>((resolve) => {
      let settled = false;
      let total: NodeJS.Timeout | undefined;
      let connect: NodeJS.Timeout | undefined;
      const finish = (outcome: SendOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(total);
        clearTimeout(connect);
        resolve(outcome);
      };
      let url: URL;
      try {
        url = options.rules.checkUrl(text);
      } catch (err) {
        return finish({ isDelivered: false, statusCode: null, error: describe(err) });
      }
      const literal = hostAddress(url.hostname);
      if (literal !== undefined && !options.rules.isAddressAllowed(literal)) {
        return finish({ isDelivered: false, statusCode: null, error: "address not allowed" });
      }
      const transport = url.protocol === "https:" ? https : http;
      const req = transport.request(url, {
        method: "POST",
        agent: false,
        lookup: lookup as never,
        maxHeaderSize: 16 * 1024,
        ...(options.ca !== undefined && { ca: options.ca }),
        headers: {
          ...headers,
          "content-type": "application/json",
          "content-length": String(Buffer.byteLength(body)),
          "user-agent": "nexus-webhooks/1",
        },
      });
      total = setTimeout(() => {
        finish({ isDelivered: false, statusCode: null, error: "timeout" });
        req.destroy();
      }, options.timeoutMs);
      connect = setTimeout(() => {
        finish({ isDelivered: false, statusCode: null, error: "connect timeout" });
        req.destroy();
      }, options.connectTimeoutMs);
      req.on("socket", (socket) => {
        const connected = url.protocol === "https:" ? "secureConnect" : "connect";
        if (!socket.connecting && url.protocol !== "https:") clearTimeout(connect);
        socket.once(connected, () => clearTimeout(connect));
      });
      // Shutdown: the attempt is abandoned (its event is tried again, by this or another process).
      signal?.addEventListener(
        "abort",
        () => {
          finish({ isDelivered: false, statusCode: null, error: "aborted" });
          req.destroy();
        },
        { once: true },
      );
      req.on("error", (err) => finish({ isDelivered: false, statusCode: null, error: describe(err) }));
      req.on("response", (res) => {
        const statusCode = res.statusCode ?? 0;
        let read = 0;
        const done = () => {
          const ok = statusCode >= 200 && statusCode < 300;
          finish(ok ? { isDelivered: true, statusCode } : { isDelivered: false, statusCode, error: `status ${statusCode}` });
        };
        res.on("data", (chunk: Buffer) => {
          read += chunk.length;
          if (read > options.maxResponseBytes) {
            // The status is known; the rest of an oversized answer is not worth reading.
            done();
            res.destroy();
          }
        });
        res.on("end", done);
        res.on("error", done);
        res.on("close", done);
      });
      req.end(body);
    });
}

/** A short, non-secret description of a failure (no URL, no header). */
function describe(err: unknown): string {
  if (err instanceof WebhookTargetNotAllowedError) return "address not allowed";
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") return code.toLowerCase().replaceAll("_", " ");
  return "request failed";
}
