/**
 * Reads a REST request body as JSON within a byte limit. It owns the body's size, media type,
 * UTF-8 and JSON syntax checks, each refused with a RestHttpError or an InvalidArgumentError;
 * it knows nothing of messages or routes.
 */

import { type IncomingHttpHeaders, IncomingMessage } from "node:http";
import type { Readable } from "node:stream";
import type { JsonValue } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { ErrorReason } from "../../gen/nexus/v1/errors_pb.ts";
import { InvalidArgumentError } from "../domain/errors.ts";
import { BodyTooLargeError, ClientClosedError, readLimitedBody } from "../http/read-limited-body.ts";
import { jsonUtf8Error } from "../services/request-fields.ts";
import { RestHttpError } from "./rest-error.ts";

/** A Node request as far as body reading goes (http.IncomingMessage and Http2ServerRequest). */
export type BodySource = Readable & { readonly headers: IncomingHttpHeaders };

/**
 * Reads and parses the JSON body. Returns undefined for an empty (or whitespace-only) body, which
 * body routes treat as `{}`; the media type is only checked when there is a body to read.
 * @throws RestHttpError 413 (code resource_exhausted) past `maxBytes`, judged from Content-Length
 *   before reading when it is declared; 415 (code unimplemented, reason UNSUPPORTED_MEDIA_TYPE)
 *   when the Content-Type is missing or not JSON: the request may be fine in the media type the
 *   server implements, as the RPC protocols answer too (node-adapter.ts).
 * @throws InvalidArgumentError for bytes that are not UTF-8 (naming the field when it can) or not JSON.
 */
export async function readJsonBody(req: BodySource, maxBytes: number): Promise<JsonValue | undefined> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
  if (hasNoBody(req)) return undefined;
  const bytes = await readLimited(req, maxBytes);
  const utf8 = jsonUtf8Error(bytes);
  if (utf8 !== undefined) throw utf8;
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === "") return undefined;
  checkJsonMediaType(req.headers["content-type"]);
  try {
    return JSON.parse(text) as JsonValue;
  } catch (err) {
    const detail = err instanceof SyntaxError ? `: ${err.message}` : "";
    throw new InvalidArgumentError("", `request body is not valid JSON${detail}`, { cause: err });
  }
}

// An HTTP/1.1 request whose whole message has been parsed (`complete`) with nothing buffered has
// no body: a GET, typically. Its "end" would only come a tick after a read starts, a wait (and a
// promise, four listeners and a resume) every such REST call paid for an empty body.
function hasNoBody(req: BodySource): boolean {
  return req instanceof IncomingMessage && req.complete && !req.destroyed && req.readableLength === 0;
}

// application/json, or a structured-syntax "+json" type (RFC 6839 §3.1); a charset other than
// UTF-8 is refused because JSON exchanged between systems must be UTF-8 (RFC 8259 §8.1).
function checkJsonMediaType(contentType: string | undefined): void {
  const [mediaType = "", ...params] = (contentType ?? "").split(";").map((s) => s.trim().toLowerCase());
  const isJson = mediaType === "application/json" || /^application\/[a-z0-9.+-]+\+json$/.test(mediaType);
  const charset = params
    .find((p) => p.startsWith("charset="))
    ?.slice("charset=".length)
    .replaceAll('"', "");
  if (!isJson || (charset !== undefined && charset !== "utf-8" && charset !== "utf8")) {
    const given = JSON.stringify((contentType ?? "none").slice(0, 100));
    const reason = `request body must be JSON (Content-Type: application/json), got ${given}`;
    throw new RestHttpError(415, Code.Unimplemented, ErrorReason.UNSUPPORTED_MEDIA_TYPE, reason);
  }
}

// 499 is nginx's "client closed request", never seen by a client that is gone.
async function readLimited(req: BodySource, maxBytes: number): Promise<Uint8Array> {
  try {
    return await readLimitedBody(req, maxBytes);
  } catch (err) {
    if (err instanceof BodyTooLargeError) throw tooLarge(maxBytes);
    if (err instanceof ClientClosedError) throw new RestHttpError(499, Code.Canceled, ErrorReason.CANCELED, err.message);
    throw err;
  }
}

function tooLarge(maxBytes: number): RestHttpError {
  return new RestHttpError(413, Code.ResourceExhausted, ErrorReason.TOO_LARGE, `request body is larger than ${maxBytes} bytes`);
}
