/**
 * Reads the body of an HTTP/2 stream a dedicated path claimed (watch-h2.ts, unary-h2.ts): whole
 * bodies of at most `maxBytes` go to `whole`, which serves the stream or says no; anything else —
 * a larger body, one that does not arrive within `waitMs`, or one `whole` refuses — goes back,
 * bytes read included, through `handOff` to the listener's ordinary path.
 */
import type { ServerHttp2Stream } from "node:http2";
import type { ReadSoFar } from "../http/listener-contract.ts";

/** How long a request body may take to arrive before the stream goes to the ordinary path. */
export const BODY_WAIT_MS = 2_000;
/**
 * Most bytes a claim buffers before the request is authenticated (the requests these paths serve
 * are well under 200 bytes): a bigger body goes to connect-node at once, which reads and answers it
 * as it answers every other request, so no unauthenticated stream pins more than this here.
 */
export const CLAIM_MAX_BYTES = 16 * 1024;

/** Starts reading `stream`'s body (the claimer then returns true). */
export function readClaimedBody(
  stream: ServerHttp2Stream,
  maxBytes: number,
  handOff: (read: ReadSoFar) => void,
  whole: (body: Buffer) => boolean,
  waitMs = BODY_WAIT_MS,
): void {
  // A stream without a listener throws its error (a reset with an error code) at the process.
  stream.on("error", ignore);
  const chunks: Buffer[] = [];
  const limit = Math.min(maxBytes, CLAIM_MAX_BYTES);
  let size = 0;
  const stop = () => {
    clearTimeout(timer);
    stream.off("data", onData);
    stream.off("end", onEnd);
    stream.off("close", onClose);
  };
  const giveBack = (isEnded: boolean) => {
    stop();
    handOff({ chunks, isEnded });
  };
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.length;
    // More than one message can hold: not ours (connect-node refuses or answers it).
    if (size > limit) giveBack(false);
  };
  const onEnd = () => {
    stop();
    if (!whole(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))) handOff({ chunks, isEnded: true });
  };
  // The client left before its request was whole: nobody to answer.
  const onClose = () => stop();
  const timer = setTimeout(() => giveBack(false), waitMs);
  stream.on("data", onData);
  stream.once("end", onEnd);
  stream.once("close", onClose);
}

/** The payload of a body that is exactly one uncompressed 5-byte-enveloped message, else undefined. */
export function singleEnvelope(body: Buffer): Buffer | undefined {
  if (body.length < 5 || body[0] !== 0) return undefined;
  return body.length === 5 + body.readUInt32BE(1) ? body.subarray(5) : undefined;
}

function ignore(): void {}
