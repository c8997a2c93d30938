/**
 * Reads a request body up to a byte limit, for the plain-HTTP routes (REST, the hosted key form).
 * It only reads: callers turn its two failures into their own answers (413, 499).
 */
import type { Readable } from "node:stream";

/** The body grew past the limit; reading stopped at once. */
export class BodyTooLargeError extends Error {
  override readonly name = "BodyTooLargeError";
  readonly maxBytes: number;
  constructor(maxBytes: number) {
    super(`request body is larger than ${maxBytes} bytes`);
    this.maxBytes = maxBytes;
  }
}

/** The client went away before the body was complete. */
export class ClientClosedError extends Error {
  override readonly name = "ClientClosedError";
  constructor() {
    super("the client closed the request before its body was read");
  }
}

/**
 * Reads until the end, or rejects with BodyTooLargeError as soon as the limit is passed. Past the
 * limit it stops keeping chunks; Node discards the rest of the body after the response is sent
 * (destroying the request here would close the socket before the 413 is written).
 */
export function readLimitedBody(req: Readable, maxBytes: number): Promise<Buffer> {
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer | string) => {
      const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      size += buf.length;
      if (size > maxBytes) {
        cleanup();
        req.resume();
        reject(new BodyTooLargeError(maxBytes));
        return;
      }
      chunks.push(buf);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      cleanup();
      reject(new ClientClosedError());
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}
