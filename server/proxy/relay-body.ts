/**
 * Relays a provider's response body to the caller: back-pressure, the size limit, the credential
 * screen, and as few socket writes as the body allows.
 */
import * as http from "node:http";
import type * as http2 from "node:http2";
import type { Readable } from "node:stream";
import type { SecretScreen } from "./secret-screen.ts";

type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;

/** The provider sent more than the response limit. */
export class ResponseTooLarge extends Error {
  override readonly name = "ResponseTooLarge";
}

/** The caller's side closed before the whole response was written. */
export class ResponseClosed extends Error {
  override readonly name = "ResponseClosed";
}

/**
 * Streams the provider's body to the caller with back-pressure (pause on a full write, resume on
 * drain), counting bytes into `counts.bytesOut` and failing once more than `limit` have come. Resolves
 * when the caller's response has finished; rejects on a body error, the limit, or the caller going
 * away (the caller then destroys both sides). With a `screen`, only what it passes is written, and
 * what it held back is written at the end. What `stream.pipeline` does for two streams, without the
 * counting Transform stage and the AbortController and errors pipeline creates per call.
 *
 * The status and headers (set with writeHead, not yet sent) leave with the body's first bytes: at
 * once when no byte of the body has come yet (a streamed answer), else with the first write. On
 * HTTP/1.1 the writes of one turn are corked, so a small answer (headers, body, end) is one socket
 * write, as a plain `pipeline` relay makes it.
 */
export function relayBody(
  body: Readable,
  res: NodeResponse,
  limit: number,
  counts: { bytesOut: number },
  signal: AbortSignal,
  screen: SecretScreen | undefined,
): Promise<void> {
  const out = res as NodeJS.WritableStream;
  // HTTP/1.1 (ServerResponse) can cork and holds its headers until the first write; the HTTP/2
  // compatibility response sent them with writeHead.
  const h1 = res instanceof http.ServerResponse ? res : undefined;
  // Ended before it began: the status and headers still leave first, as for any body cut short.
  if (signal.aborted || body.destroyed) {
    if (!res.destroyed) h1?.flushHeaders();
    return Promise.reject(signal.aborted ? signal.reason : (body.errored ?? new ResponseClosed("the provider's body was destroyed")));
  }
  if (res.destroyed) return Promise.reject(new ResponseClosed("the caller closed the response"));
  // Whether the status and headers have left (with a write or flushHeaders; `headersSent` is true
  // as soon as writeHead stored them).
  let headersOut = h1 === undefined;
  if (!headersOut && body.readableLength === 0) {
    h1?.flushHeaders();
    headersOut = true;
  }
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    let corked = false;
    const uncork = () => {
      if (!corked) return;
      corked = false;
      h1?.uncork();
    };
    const write = (bytes: Buffer) => {
      if (h1 !== undefined && !corked) {
        corked = true;
        h1.cork();
        process.nextTick(uncork);
      }
      headersOut = true;
      if (!out.write(bytes)) body.pause();
    };
    const onDrain = () => body.resume();
    const onData = (chunk: Buffer) => {
      counts.bytesOut += chunk.length;
      if (counts.bytesOut > limit) {
        counts.bytesOut -= chunk.length;
        settle(new ResponseTooLarge(`body larger than ${limit} bytes`));
        return;
      }
      if (screen === undefined) {
        write(chunk);
        return;
      }
      try {
        screen.pass(chunk, write);
      } catch (err) {
        settle(err);
        return;
      }
      // All of it held back for now: the status and headers still leave.
      if (!headersOut) {
        headersOut = true;
        h1?.flushHeaders();
      }
    };
    const onEnd = () => {
      const rest = screen?.flush();
      // end() sends what is corked and uncorks fully.
      corked = false;
      if (rest !== undefined && rest.length > 0) out.end(rest, () => settle());
      else out.end(() => settle());
    };
    const onClose = () => {
      if (!res.writableFinished) settle(new ResponseClosed("the caller closed the response"));
    };
    const onAbort = () => settle(signal.reason);
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      // A body cut off before its first write still gets its status and headers out first (the
      // caller then sees the answer end early), as when they left before the body.
      if (err !== undefined && !headersOut) {
        headersOut = true;
        h1?.flushHeaders();
      }
      uncork();
      signal.removeEventListener("abort", onAbort);
      body.off("data", onData);
      body.off("end", onEnd);
      res.off("drain", onDrain);
      res.off("close", onClose);
      if (err === undefined) resolve();
      else reject(err);
    };
    body.on("data", onData);
    body.once("end", onEnd);
    // The error listeners stay after settling (settle is idempotent): a body destroyed later with an
    // error (undici on the abort signal) must not become an unhandled 'error' event.
    body.on("error", settle);
    res.on("drain", onDrain);
    res.once("close", onClose);
    res.on("error", settle);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
