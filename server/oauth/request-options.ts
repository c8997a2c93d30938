/**
 * Transport options for every outbound OAuth request: the injected `fetch`, a total and a
 * first-byte timeout per request (plus a connect timeout on the default transport), and the one
 * place plain http is tolerated (loopback only, for tests and local development). It owns no
 * protocol logic and never logs request or response bodies (they carry codes and tokens).
 */
import { allowInsecureRequests, customFetch, type HttpRequestOptions } from "oauth4webapi";
import type { Agent } from "undici";

/** A fetch-compatible function; tests pass one that observes or fakes provider calls. */
export type FetchFn = (url: string, init: RequestInit) => Promise<Response>;

/** Default timeout of one provider request: 10 seconds. */
export const DEFAULT_PROVIDER_TIMEOUT_MS = 10_000;
/**
 * Default wait for a provider's response headers, from the start of the request (connect included):
 * 5 seconds, so a provider that accepts and never answers costs seconds, not the total timeout.
 */
export const DEFAULT_PROVIDER_FIRST_BYTE_TIMEOUT_MS = 5_000;
/** Default TCP + TLS connect timeout of the default transport: 3 seconds (a black-holed address). */
export const DEFAULT_PROVIDER_CONNECT_TIMEOUT_MS = 3_000;

/**
 * The default transport for provider requests: undici's fetch over its own connection pool, with
 * a connect timeout and a headers timeout (undici's defaults are 10 s and 300 s).
 */
export function createProviderFetch(options: { connectTimeoutMs?: number; firstByteTimeoutMs?: number } = {}): FetchFn {
  // undici is loaded on the first provider request, not at start-up (about a hundred modules).
  let loaded: Promise<{ agent: Agent; fetch: typeof import("undici").fetch }> | undefined;
  const load = async () => {
    const undici = await import("undici");
    const agent = new undici.Agent({
      connect: { timeout: options.connectTimeoutMs ?? DEFAULT_PROVIDER_CONNECT_TIMEOUT_MS },
      headersTimeout: options.firstByteTimeoutMs ?? DEFAULT_PROVIDER_FIRST_BYTE_TIMEOUT_MS,
    });
    return { agent, fetch: undici.fetch };
  };
  return async (url, init) => {
    loaded ??= load();
    const { agent, fetch: undiciFetch } = await loaded;
    const res = await undiciFetch(url, { ...(init as object), dispatcher: agent });
    // Re-wrapped as the global Response: the package's own class would fail `instanceof Response`
    // checks (token-failure.ts sorts error statuses by it). The body stream is passed through.
    return new Response(res.body as ReadableStream<Uint8Array> | null, {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers as unknown as Headers,
    });
  };
}

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** Whether `url` points at this machine's loopback interface (the only place plain http is allowed). */
export function isLoopbackUrl(url: string | URL): boolean {
  const parsed = typeof url === "string" ? URL.parse(url) : url;
  return parsed !== null && LOOPBACK_HOSTS.has(parsed.hostname);
}

/** Whether `url` is acceptable for a provider endpoint: https anywhere, http only on loopback. */
export function isAllowedEndpointUrl(url: string): boolean {
  const parsed = URL.parse(url);
  if (parsed === null) return false;
  return parsed.protocol === "https:" || (parsed.protocol === "http:" && isLoopbackUrl(parsed));
}

/** A provider request to a plain-http URL that is not loopback was refused (a configuration fault). */
export class InsecureEndpointError extends Error {
  override readonly name = "InsecureEndpointError";
  constructor() {
    super("provider requests must use https (plain http only on loopback)");
  }
}

/** oauth4webapi transport options, shared by every request method. */
export type RequestOptions = HttpRequestOptions<"GET" | "POST", URLSearchParams | undefined>;

/**
 * Builds the transport options for requests to endpoints `urls`.
 *
 * oauth4webapi refuses plain http unless `allowInsecureRequests` is set. We set it only when one of
 * the endpoints is an http loopback URL (a provider started by a test, or a developer's local
 * identity provider): nothing on the network can observe loopback traffic. The wrapped fetch still
 * refuses any plain-http URL that is not loopback, so a discovered `jwks_uri` can't slip through.
 */
export function createRequestOptions(input: {
  urls: readonly string[];
  fetch?: FetchFn;
  timeoutMs?: number;
  /** Longest wait for the response headers, ms; default DEFAULT_PROVIDER_FIRST_BYTE_TIMEOUT_MS. */
  firstByteTimeoutMs?: number;
}): RequestOptions {
  const fetchFn: FetchFn = input.fetch ?? ((url, init) => fetch(url, init));
  const timeoutMs = input.timeoutMs ?? DEFAULT_PROVIDER_TIMEOUT_MS;
  const firstByteMs = input.firstByteTimeoutMs ?? DEFAULT_PROVIDER_FIRST_BYTE_TIMEOUT_MS;
  const guardedFetch: FetchFn = async (url, init) => {
    if (!isAllowedEndpointUrl(url)) throw new InsecureEndpointError();
    // Enforced here too (not only by the default transport's agent), so an injected fetch gets it.
    const firstByte = new AbortController();
    const timer = setTimeout(
      () => firstByte.abort(new DOMException(`no response headers within ${firstByteMs} ms`, "TimeoutError")),
      firstByteMs,
    );
    const signal = init.signal ? AbortSignal.any([init.signal, firstByte.signal]) : firstByte.signal;
    try {
      return await fetchFn(url, { ...init, signal });
    } finally {
      clearTimeout(timer);
    }
  };
  const needsInsecure = input.urls.some((u) => URL.parse(u)?.protocol === "http:" && isLoopbackUrl(u));
  return {
    signal: () => AbortSignal.timeout(timeoutMs),
    [customFetch]: guardedFetch as RequestOptions[typeof customFetch],
    // Deprecated on purpose in oauth4webapi so that it stands out; gated to loopback above.
    [allowInsecureRequests]: needsInsecure,
  };
}
