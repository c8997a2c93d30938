/**
 * Reads a REST request body as JSON within a byte limit. It owns the body's size, media type,
 * UTF-8 and JSON syntax checks, each refused with a RestHttpError or an InvalidArgumentError;
 * it knows nothing of messages or routes.
 */
import type { Readable } from "node:stream";
import type { IncomingHttpHeaders } from "node:http";
import type { JsonValue } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { InvalidArgumentError } from "../domain/errors.ts";
import { RestHttpError } from "./rest-error.ts";

/** A Node request as far as body reading goes (http.IncomingMessage and Http2ServerRequest). */
export type BodySource = Readable & { readonly headers: IncomingHttpHeaders };

/**
 * Reads and parses the JSON body. Returns undefined for an empty (or whitespace-only) body, which
 * body routes treat as `{}`; the media type is only checked when there is a body to read.
 * @throws RestHttpError 413 (code resource_exhausted) past `maxBytes`, judged from Content-Length
 *   before reading when it is declared; 415 (code invalid_argument) when the Content-Type is not
 *   JSON — 415 rather than 400, because the request may be fine in the right media type.
 * @throws InvalidArgumentError for bytes that are not UTF-8 or not JSON.
 */
export async function readJsonBody(req: BodySource, maxBytes: number): Promise<JsonValue | undefined> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
  const bytes = await readLimited(req, maxBytes);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (err) {
    throw new InvalidArgumentError("", "request body is not valid UTF-8", { cause: err });
  }
  if (text.trim() === "") return undefined;
  checkJsonMediaType(req.headers["content-type"]);
  try {
    return JSON.parse(text) as JsonValue;
  } catch (err) {
    const detail = err instanceof SyntaxError ? `: ${err.message}` : "";
    throw new InvalidArgumentError("", `request body is not valid JSON${detail}`, { cause: err });
  }
}

// application/json, or a structured-syntax "+json" type (RFC 6839 §3.1); a charset other than
// UTF-8 is refused because JSON exchanged between systems must be UTF-8 (RFC 8259 §8.1).
function checkJsonMediaType(contentType: string | undefined): void {
  const [mediaType = "", ...params] = (contentType ?? "").split(";").map((s) => s.trim().toLowerCase());
  const isJson = mediaType === "application/json" || /^application\/[a-z0-9.+-]+\+json$/.test(mediaType);
  const charset = params.find((p) => p.startsWith("charset="))?.slice("charset=".length).replaceAll('"', "");
  if (!isJson || (charset !== undefined && charset !== "utf-8" && charset !== "utf8")) {
    const given = JSON.stringify((contentType ?? "none").slice(0, 100));
    const reason = `request body must be JSON (Content-Type: application/json), got ${given}`;
    throw new RestHttpError(415, Code.InvalidArgument, reason);
  }
}

// Reads until the end or until the limit is passed (499 is nginx's "client closed request", never
// seen by a client that is gone). Past the limit it stops keeping chunks and
// answers at once; Node discards the rest of the body after the response (destroying the request
// here would close the socket before the 413 is written).
function readLimited(req: BodySource, maxBytes: number): Promise<Uint8Array> {
  if (req.readableEnded) return Promise.resolve(new Uint8Array(0));
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
        reject(tooLarge(maxBytes));
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
      reject(new RestHttpError(499, Code.Canceled, "client closed the request before its body was read"));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

function tooLarge(maxBytes: number): RestHttpError {
  return new RestHttpError(413, Code.ResourceExhausted, `request body is larger than ${maxBytes} bytes`);
}
