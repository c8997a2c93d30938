/**
 * applyCredential: applies a Nexus credential to the three things an agent sends — a fetch
 * Request, a WebSocket handshake (URL + headers) or RPC metadata (a Headers object) — by turning
 * each into request parts for the strategy table and back. Pure: inputs are never changed (a
 * Request's body is read from a clone) and new objects are returned.
 */
import type { Credential } from "../gen/nexus/v1/credential_pb.ts";
import { type Clock, systemClock } from "./clock.ts";
import type { AppliedParts, RequestParts } from "./strategies/applier.ts";
import { applierFor } from "./strategies/strategy-appliers.ts";

/** A WebSocket handshake to authenticate: where to connect and any headers of your own. */
export interface HandshakeTarget {
  url: string | URL;
  headers?: ConstructorParameters<typeof Headers>[0];
}

/** The authenticated handshake: pass `url` and `headers` to the WebSocket constructor. */
export interface AuthenticatedHandshake {
  url: URL;
  headers: Headers;
}

/** What metadata-level strategies need to know about the RPC (SigV4 signs method and URL). */
export interface MetadataContext {
  /** The full RPC URL, e.g. interceptor `req.url`. */
  url: string | URL;
  /** Default "POST" (gRPC, Connect unary). */
  method?: string;
  /** Body bytes, when known; without them hmac_payload is refused and SigV4 signs UNSIGNED-PAYLOAD. */
  body?: Uint8Array;
  /** Default: the system clock. */
  clock?: Clock;
}

/** Options for Request and handshake targets. */
export interface ApplyOptions {
  /** Time source of SigV4 signing dates. Default: the system clock. */
  clock?: Clock;
}

/**
 * Applies `credential` according to its strategy (oauth2, header, query_param, basic_auth,
 * hmac_payload, aws_sigv4) and returns a new, authenticated copy of the target. Throws
 * StrategyError when the credential cannot be applied to that target.
 *
 * @example
 * const request = await applyCredential(credential, new Request("https://api.example.com/v1/me"));
 * const response = await fetch(request);
 *
 * const { url, headers } = await applyCredential(credential, { url: "wss://stream.example.com" });
 * const socket = new WebSocket(url, { headers: Object.fromEntries(headers) });
 *
 * const metadata = await applyCredential(credential, new Headers(), { url: "https://svc.example.com/pkg.Svc/Call" });
 */
export function applyCredential(credential: Credential, request: Request, options?: ApplyOptions): Promise<Request>;
export function applyCredential(
  credential: Credential,
  handshake: HandshakeTarget,
  options?: ApplyOptions,
): Promise<AuthenticatedHandshake>;
export function applyCredential(credential: Credential, metadata: Headers, context: MetadataContext): Promise<Headers>;
export async function applyCredential(
  credential: Credential,
  target: Request | HandshakeTarget | Headers,
  options?: ApplyOptions | MetadataContext,
): Promise<Request | AuthenticatedHandshake | Headers> {
  const env = { clock: options?.clock ?? systemClock };
  const applier = applierFor(credential);

  if (target instanceof Request) {
    const body = new Uint8Array(await target.clone().arrayBuffer());
    const parts: RequestParts = { method: target.method, url: new URL(target.url), headers: target.headers, body, target: "request" };
    const applied = await applier(parts, credential, env);
    return rebuildRequest(target, applied, body);
  }

  if (target instanceof Headers) {
    const context = options as MetadataContext | undefined;
    if (!context?.url) throw new TypeError("applyCredential on metadata needs the RPC url");
    const parts: RequestParts = {
      method: (context.method ?? "POST").toUpperCase(),
      url: new URL(context.url),
      headers: target,
      body: context.body,
      target: "metadata",
    };
    return (await applier(parts, credential, env)).headers;
  }

  const parts: RequestParts = {
    method: "GET",
    url: new URL(target.url),
    headers: new Headers(target.headers),
    body: new Uint8Array(0),
    target: "handshake",
  };
  return applier(parts, credential, env);
}

// `Uint8Array<ArrayBuffer>`, not the default ArrayBufferLike: only that is a BodyInit under the DOM lib.
function rebuildRequest(original: Request, applied: AppliedParts, body: Uint8Array<ArrayBuffer>): Request {
  const hasBody = original.method !== "GET" && original.method !== "HEAD";
  return new Request(applied.url, {
    method: original.method,
    headers: applied.headers,
    body: hasBody ? body : null,
    signal: original.signal,
    redirect: original.redirect,
    keepalive: original.keepalive,
  });
}
