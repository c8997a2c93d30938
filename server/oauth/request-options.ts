/**
 * Transport options for every outbound OAuth request: the injected `fetch`, a per-request timeout,
 * and the one place plain http is tolerated (loopback only, for tests and local development).
 * It owns no protocol logic and never logs request or response bodies (they carry codes and tokens).
 */
import { allowInsecureRequests, customFetch, type HttpRequestOptions } from "oauth4webapi";

/** A fetch-compatible function; tests pass one that observes or fakes provider calls. */
export type FetchFn = (url: string, init: RequestInit) => Promise<Response>;

/** Default timeout of one provider request: 10 seconds. */
export const DEFAULT_PROVIDER_TIMEOUT_MS = 10_000;

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
}): RequestOptions {
  const fetchFn: FetchFn = input.fetch ?? ((url, init) => fetch(url, init));
  const timeoutMs = input.timeoutMs ?? DEFAULT_PROVIDER_TIMEOUT_MS;
  const guardedFetch: FetchFn = (url, init) => {
    if (!isAllowedEndpointUrl(url)) {
      return Promise.reject(new InsecureEndpointError());
    }
    return fetchFn(url, init);
  };
  const needsInsecure = input.urls.some((u) => URL.parse(u)?.protocol === "http:" && isLoopbackUrl(u));
  return {
    signal: () => AbortSignal.timeout(timeoutMs),
    [customFetch]: guardedFetch as RequestOptions[typeof customFetch],
    // Deprecated on purpose in oauth4webapi so that it stands out; gated to loopback above.
    [allowInsecureRequests]: needsInsecure,
  };
}
