/**
 * A raw HTTP client for robustness tests: one HTTP/2 session (prior knowledge) and one HTTP/1.1
 * keep-alive agent to the server, sending bytes exactly as given and returning status, headers,
 * gRPC trailers and body, or a transport error. Streams still open after `timeoutMs` are cancelled
 * and reported as such (a watch that was let in waits for changes). With `afterHeadersMs`, the
 * timeout only bounds the wait for the response headers (an event, however slow the machine);
 * from then on the response gets `afterHeadersMs` to end by itself before it is cancelled.
 */
import http from "node:http";
import http2 from "node:http2";

/** What came back. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  trailers: Record<string, string>;
  body: Buffer;
  /** True when the response was still open at the timeout (headers received). */
  timedOut: boolean;
  /** A transport failure (reset, socket closed), when one happened. */
  error?: string;
}

/** A request as the client sends it. */
export interface RawSend {
  transport: "h2" | "h1";
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Uint8Array | undefined;
}

/** The client. */
export interface RawClient {
  send(request: RawSend, timeoutMs?: number, afterHeadersMs?: number): Promise<RawResponse>;
  close(): void;
}

/** Opens the client against `baseUrl`. */
export function createRawClient(baseUrl: string): RawClient {
  const url = new URL(baseUrl);
  let session = http2.connect(baseUrl);
  session.on("error", () => undefined);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const live = () => {
    if (session.closed || session.destroyed) {
      session = http2.connect(baseUrl);
      session.on("error", () => undefined);
    }
    return session;
  };

  const sendH2 = (request: RawSend, timeoutMs: number, afterHeadersMs: number | undefined) =>
    new Promise<RawResponse>((resolve) => {
      const out: RawResponse = { status: 0, headers: {}, trailers: {}, body: Buffer.alloc(0), timedOut: false };
      const chunks: Buffer[] = [];
      const stream = live().request(
        { ":method": request.method, ":path": request.path, ...request.headers },
        { endStream: request.body === undefined },
      );
      const cancel = () => {
        out.timedOut = true;
        stream.close(http2.constants.NGHTTP2_CANCEL);
      };
      let timer = setTimeout(cancel, timeoutMs);
      stream.on("response", (headers) => {
        out.status = Number(headers[":status"]);
        out.headers = flatten(headers);
        if (afterHeadersMs !== undefined) {
          clearTimeout(timer);
          timer = setTimeout(cancel, afterHeadersMs);
        }
      });
      stream.on("trailers", (trailers) => (out.trailers = flatten(trailers)));
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("error", (err: Error) => (out.error ??= err.message));
      stream.on("close", () => {
        clearTimeout(timer);
        out.body = Buffer.concat(chunks);
        if (!out.timedOut && stream.rstCode !== 0 && stream.rstCode !== undefined && out.status === 0)
          out.error ??= `reset ${stream.rstCode}`;
        resolve(out);
      });
      if (request.body !== undefined) stream.end(request.body);
    });

  const sendH1 = (request: RawSend, timeoutMs: number, afterHeadersMs: number | undefined) =>
    new Promise<RawResponse>((resolve) => {
      const out: RawResponse = { status: 0, headers: {}, trailers: {}, body: Buffer.alloc(0), timedOut: false };
      const cancel = () => {
        out.timedOut = true;
        req.destroy();
        resolve(out);
      };
      const req = http.request(
        { host: url.hostname, port: url.port, method: request.method, path: request.path, headers: request.headers, agent },
        (res) => {
          out.status = res.statusCode ?? 0;
          out.headers = flatten(res.headers);
          if (afterHeadersMs !== undefined) {
            clearTimeout(timer);
            timer = setTimeout(cancel, afterHeadersMs);
          }
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => {
            clearTimeout(timer);
            out.body = Buffer.concat(chunks);
            out.trailers = flatten(res.trailers);
            resolve(out);
          });
          res.on("error", (err) => {
            out.error ??= err.message;
          });
        },
      );
      let timer = setTimeout(cancel, timeoutMs);
      req.on("error", (err) => {
        clearTimeout(timer);
        if (!out.timedOut) {
          out.error ??= err.message;
          resolve(out);
        }
      });
      req.end(request.body === undefined ? undefined : Buffer.from(request.body));
    });

  return {
    send: (request, timeoutMs = 10_000, afterHeadersMs) =>
      request.transport === "h2" ? sendH2(request, timeoutMs, afterHeadersMs) : sendH1(request, timeoutMs, afterHeadersMs),
    close() {
      session.close();
      agent.destroy();
    },
  };
}

function flatten(headers: Record<string, string | string[] | number | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers))
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : String(value);
  return out;
}
