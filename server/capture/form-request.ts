/**
 * Admission of a credential-form POST before its state is even looked up: the request must come
 * from a page of Nexus's own public origin, be an urlencoded form, and fit the size limit. It owns
 * these refusals (each with its HTTP status); it knows nothing of states, schemas or storage.
 */
import type { NodeRequest } from "../http/endpoints.ts";
import { BodyTooLargeError, ClientClosedError, readLimitedBody } from "../http/read-limited-body.ts";

/** A refused form request, with the HTTP status to answer. Its message never holds body content. */
export class FormRequestError extends Error {
  override readonly name = "FormRequestError";
  readonly status: 400 | 403 | 413 | 415 | 499;
  constructor(status: FormRequestError["status"], message: string) {
    super(message);
    this.status = status;
  }
}

/**
 * Checks the request's origin and media type, then reads and parses the urlencoded body.
 * The origin is the `Origin` header, or, only when a browser sent none, the origin of `Referer`;
 * `Origin: null` (sandboxed or privacy-stripped contexts) is refused.
 * @throws FormRequestError 403 (foreign or unknown origin), 415 (not urlencoded, or not UTF-8),
 *   413 (larger than `maxBytes`), 400 (body is not UTF-8), 499 (client went away).
 */
export async function readFormRequest(req: NodeRequest, options: { expectedOrigin: string; maxBytes: number }): Promise<URLSearchParams> {
  const origin = requestOrigin(req);
  if (origin !== options.expectedOrigin) {
    throw new FormRequestError(403, "the form must be submitted from its own page");
  }
  const [mediaType = "", ...params] = header(req, "content-type")
    .split(";")
    .map((s) => s.trim().toLowerCase());
  const charset = params
    .find((p) => p.startsWith("charset="))
    ?.slice("charset=".length)
    .replaceAll('"', "");
  if (mediaType !== "application/x-www-form-urlencoded" || (charset !== undefined && charset !== "utf-8")) {
    throw new FormRequestError(415, "the form must be sent as application/x-www-form-urlencoded (UTF-8)");
  }
  const declared = Number(header(req, "content-length") || Number.NaN);
  if (Number.isFinite(declared) && declared > options.maxBytes) throw tooLarge(options.maxBytes);
  const bytes = await readLimited(req, options.maxBytes);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new FormRequestError(400, "the form body is not valid UTF-8");
  }
  return new URLSearchParams(text);
}

function requestOrigin(req: NodeRequest): string | null {
  const origin = header(req, "origin");
  if (origin !== "") return origin;
  const referer = header(req, "referer");
  if (referer === "" || !URL.canParse(referer)) return null;
  return new URL(referer).origin;
}

function header(req: NodeRequest, name: string): string {
  const value = req.headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? "";
}

async function readLimited(req: NodeRequest, maxBytes: number): Promise<Buffer> {
  try {
    return await readLimitedBody(req, maxBytes);
  } catch (err) {
    if (err instanceof BodyTooLargeError) throw tooLarge(maxBytes);
    if (err instanceof ClientClosedError) throw new FormRequestError(499, err.message);
    throw err;
  }
}

function tooLarge(maxBytes: number): FormRequestError {
  return new FormRequestError(413, `the form is larger than ${maxBytes} bytes`);
}
