/**
 * Which headers cross the proxy, both ways: the caller's headers minus hop-by-hop, its Nexus
 * credentials, cookies and forwarding headers; the provider's minus hop-by-hop, cookies, CORS and
 * any that carries the credential.
 */
import type * as http from "node:http";
import type * as http2 from "node:http2";

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;
type HeaderValue = string | string[] | undefined;

/** Headers that make a provider's framework run another method or path than the request's own (refused). */
export const OVERRIDE_HEADERS = [
  "x-http-method-override",
  "x-http-method",
  "x-method-override",
  "x-original-url",
  "x-rewrite-url",
  "x-original-method",
];

/** Request headers never forwarded: hop-by-hop (RFC 9110 §7.6.1), the caller's Nexus credentials, cookies and forwarding headers. */
const DROPPED_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
  "host",
  "expect",
  "authorization",
  "x-api-key",
  "cookie",
  "forwarded",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-forwarded-port",
  "x-forwarded-prefix",
  "x-forwarded-server",
  "x-forwarded-ssl",
  "x-client-ip",
  "true-client-ip",
  "client-ip",
  "cf-connecting-ip",
  "fastly-client-ip",
  "via",
  "x-real-ip",
  "x-nexus-client-address",
]);

/**
 * Set (to "1") on Nexus's own error answers of the proxy route, never on a provider's (dropped from
 * those): a client tells "Nexus refused" (connection revoked, rule denied) from "the provider
 * answered with an error" by it, so a provider cannot forge Nexus's refusals.
 */
export const PROXY_REFUSAL_HEADER = "x-nexus-proxy-refusal";

/** Response headers never passed back: hop-by-hop, and cookies (the caller's origin is Nexus, not the provider). */
const DROPPED_RESPONSE_HEADERS: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
  "set-cookie",
  "set-cookie2",
  // Marks Nexus's own refusals; a provider must not make its answer pass for one.
  PROXY_REFUSAL_HEADER,
]);

export function headerValue(value: HeaderValue): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

const NO_TOKENS: ReadonlySet<string> = new Set();

/** The tokens of a Connection header, lower case. */
function listTokens(value: string | undefined): ReadonlySet<string> {
  if (value === undefined || value === "") return NO_TOKENS;
  return new Set(
    value
      .split(",")
      .map((token) => token.trim().toLowerCase())
      .filter((token) => token !== ""),
  );
}

/** The first of OVERRIDE_HEADERS the request carries. */
export function overrideHeader(req: NodeRequest): string | undefined {
  for (const name of OVERRIDE_HEADERS) if (req.headers[name] !== undefined) return name;
  return undefined;
}

/** The caller's headers minus what is never forwarded (Node gives their names in lower case). */
export function forwardedHeaders(req: NodeRequest): Headers {
  const connectionTokens = listTokens(headerValue(req.headers.connection));
  const headers = new Headers();
  const given = req.headers as Record<string, HeaderValue>;
  for (const name in given) {
    const value = given[name];
    if (value === undefined || name.charCodeAt(0) === 58 /* ":" */ || DROPPED_REQUEST_HEADERS.has(name) || connectionTokens.has(name))
      continue;
    if (name === "content-length") continue;
    try {
      headers.append(name, Array.isArray(value) ? value.join(", ") : value);
    } catch {
      // A value Headers refuses cannot be forwarded; drop it rather than fail the call.
    }
  }
  return headers;
}

/**
 * Sets the provider's response headers on `res`, minus what never comes back: hop-by-hop, cookies,
 * Nexus's refusal marker, CORS (Nexus's origin policy governs who may read Nexus's answers, not the
 * provider's) and any header whose value holds one of `secrets`. The provider's Vary is added to
 * Nexus's own. Returns whether a header was dropped for holding a secret.
 */
export function passResponseHeaders(given: Record<string, HeaderValue>, res: NodeResponse, secrets: readonly string[]): boolean {
  const connectionTokens = listTokens(headerValue(given.connection));
  let droppedSecret = false;
  for (const name in given) {
    const value = given[name];
    const lower = name.toLowerCase();
    if (value === undefined || DROPPED_RESPONSE_HEADERS.has(lower) || connectionTokens.has(lower)) continue;
    // The provider's "Access-Control-Allow-Origin: *" would open proxied answers to every page.
    if (lower.startsWith("access-control-")) continue;
    // A provider that echoes the credential in a header (a redirect carrying ?key=…) must not hand
    // it to the agent: such a header is dropped.
    const text = Array.isArray(value) ? value.join("\n") : value;
    if (secrets.some((secret) => text.includes(secret))) {
      droppedSecret = true;
      continue;
    }
    if (lower === "vary") {
      // Nexus's own "Vary: origin" (CORS) stays; the provider's names are added.
      const ours = res.getHeader("vary");
      const theirs = Array.isArray(value) ? value.join(", ") : value;
      res.setHeader("vary", ours === undefined ? theirs : `${String(ours)}, ${theirs}`);
      continue;
    }
    res.setHeader(lower, value);
  }
  return droppedSecret;
}
