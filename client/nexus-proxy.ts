/**
 * nexusProxy: a `fetch` that sends each request through Nexus's credential proxy,
 * `${baseUrl}/v1/proxy/${connectionId}${path}`, authenticated with the agent's own Nexus API key.
 * Nexus applies the connection's credential server-side and forwards the call to the provider's API,
 * so the agent never holds a token: this is what a proxy-only key uses.
 *
 * - **Paths**: pass the provider API path ("/repos/o/r/issues?state=open"). An absolute URL (string,
 *   URL or Request, as SDKs such as Octokit send) is taken for its path and query only: the proxy
 *   always targets the connection's provider, whatever host the URL names. A path whose dot segments (`..`, `%2e%2e`)
 *   would resolve out of `/v1/proxy/{id}/` onto another Nexus route is refused (TypeError).
 * - **Bodies stream** both ways: a ReadableStream body is sent as it is produced (`duplex: "half"`)
 *   and the response body is the proxy's, unbuffered.
 * - **Provider answers** (any status, 4xx and 5xx included) are returned as the Response, like
 *   fetch. Redirects are not followed by default (`redirect: "manual"`): a provider's Location
 *   names the provider's host, which the agent cannot reach with its Nexus key.
 * - **Nexus's own refusals** (rule denied, connection revoked or needing consent, bad key...) carry
 *   Nexus's error body with an ErrorInfo detail and the `x-nexus-proxy-refusal: 1` header (which a
 *   provider's answer never carries through the proxy); they reject like the rest of the client
 *   ({@link toClientError}: AttentionRequiredError, ConnectionRevokedError, NexusUnavailableError,
 *   or the ConnectError with its ErrorInfo, e.g. reason PROXY_NOT_ALLOWED). Nexus unreachable →
 *   NexusUnavailableError. An abort of the caller's signal rejects with the signal's reason.
 * - The `Authorization` header is always the Nexus key (the proxy never forwards it).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { errorFromJson } from "@connectrpc/connect/protocol-connect";
import { ErrorInfoSchema } from "../gen/nexus/v1/errors_pb.ts";
import { NexusUnavailableError, toClientError } from "./errors.ts";

/** Options of {@link nexusProxy}. */
export interface NexusProxyOptions {
  /** Nexus's address, e.g. "https://nexus.example.com". */
  baseUrl: string;
  /** The agent's Nexus API key (a proxy-only key is enough). Sent as `Authorization: Bearer`. */
  apiKey?: string | undefined;
  /** The fetch that reaches Nexus. Default: the global fetch. */
  fetch?: typeof globalThis.fetch | undefined;
}

/** One connection's proxy. */
export interface NexusProxy {
  /** The connection the proxy calls through. */
  readonly connectionId: string;
  /** A fetch-compatible function: `fetch("/user")` calls the provider's `GET /user` through Nexus. */
  readonly fetch: typeof globalThis.fetch;
}

/** Set by Nexus on its own refusals only (it drops the header from provider answers): a provider cannot forge one. */
const PROXY_REFUSAL_HEADER = "x-nexus-proxy-refusal";

/** Largest error body inspected for Nexus's error shape (Nexus's own error bodies are far smaller). */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/**
 * Returns the proxy of one connection.
 *
 * @example
 * const github = nexusProxy(connectionId, { baseUrl, apiKey });
 * const response = await github.fetch("/repos/octocat/hello-world/issues?state=open");
 */
export function nexusProxy(connectionId: string, options: NexusProxyOptions): NexusProxy {
  if (connectionId === "") throw new TypeError("connectionId is required");
  const doFetch = options.fetch ?? globalThis.fetch;
  const prefix = `${options.baseUrl.replace(/\/+$/, "")}/v1/proxy/${encodeURIComponent(connectionId)}`;

  const proxyFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : undefined;
    const target = insideProxy(prefix, pathOf(request?.url ?? input.toString()));
    const headers = new Headers(init?.headers ?? request?.headers);
    if (options.apiKey !== undefined && options.apiKey !== "") headers.set("authorization", `Bearer ${options.apiKey}`);
    const body = init?.body !== undefined ? init.body : (request?.body ?? null);
    const signal = init?.signal ?? request?.signal ?? null;
    const forwarded: RequestInit & { duplex?: "half" } = {
      ...init,
      method: init?.method ?? request?.method ?? "GET",
      headers,
      body,
      signal,
      redirect: init?.redirect ?? "manual",
    };
    // A streamed body is sent as it is produced (fetch requires duplex "half" for it).
    if (body !== null && typeof (body as ReadableStream).getReader === "function") forwarded.duplex = "half";
    let response: Response;
    try {
      response = await doFetch(target, forwarded);
    } catch (err) {
      if (signal?.aborted) throw signal.reason ?? err;
      throw new NexusUnavailableError(connectionId, {
        cause: new ConnectError(
          `cannot reach nexus: ${(err as Error)?.message ?? String(err)}`,
          Code.Unavailable,
          undefined,
          undefined,
          err,
        ),
      });
    }
    const refusal = await nexusRefusal(response);
    if (refusal !== undefined) throw toClientError(refusal, connectionId);
    return response;
  };
  return { connectionId, fetch: proxyFetch as typeof globalThis.fetch };
}

/**
 * `prefix` + `path`, refused when URL resolution (which fetch applies: `..`, `%2e%2e`, `\`) would
 * take it out of `/v1/proxy/{id}/`: the agent's key would then reach another Nexus route
 * (`/v1/proxy/id/../../v1/connections/x:revoke`) instead of the provider.
 */
function insideProxy(prefix: string, path: string): string {
  const target = `${prefix}${path}`;
  const base = new URL(prefix);
  let resolved: URL | null = null;
  try {
    resolved = new URL(target); // not URL.parse: Node 22.0 and older browsers lack it
  } catch {
    // refused below
  }
  if (resolved === null || resolved.origin !== base.origin || !`${resolved.pathname}/`.startsWith(`${base.pathname}/`)) {
    throw new TypeError(`proxy fetch: "${path.slice(0, 100)}" leaves the connection's proxy path (dot segments)`);
  }
  return target;
}

/** The path and query of what was passed: "/x?y" as is; an absolute URL's path and query. */
function pathOf(input: string): string {
  if (input.startsWith("/") && !input.startsWith("//")) return input;
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new TypeError(`proxy fetch: "${input.slice(0, 100)}" is neither a path starting with "/" nor an absolute URL`);
  }
  return `${url.pathname}${url.search}`;
}

/**
 * Nexus's own error in a proxy answer, or undefined for a provider's answer (returned untouched).
 * Nexus marks its refusals with `x-nexus-proxy-refusal: 1` (never on a provider's answer, so a
 * provider's JSON shaped like Nexus's error stays the provider's). Nexus's errors are JSON `{code, message, details}` with a nexus.v1.ErrorInfo detail; a provider's
 * non-2xx JSON is read from a clone, at most 64 KiB of it, so the caller still gets the whole body.
 */
async function nexusRefusal(response: Response): Promise<ConnectError | undefined> {
  if (response.headers.get(PROXY_REFUSAL_HEADER) !== "1") return undefined;
  if (response.ok || !(response.headers.get("content-type") ?? "").startsWith("application/json")) return undefined;
  const length = Number(response.headers.get("content-length") ?? "0");
  if (length > MAX_ERROR_BODY_BYTES) return undefined;
  const text = await readText(response.clone(), MAX_ERROR_BODY_BYTES);
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const details = (json as { details?: unknown } | null)?.details;
  if (!Array.isArray(details) || !details.some((d) => (d as { type?: unknown })?.type === ErrorInfoSchema.typeName)) return undefined;
  try {
    return errorFromJson(json as Parameters<typeof errorFromJson>[0], response.headers, new ConnectError("not a nexus error"));
  } catch {
    return undefined;
  }
}

/** The body as text, or undefined when it is longer than `limit` bytes (the rest is not read). */
async function readText(response: Response, limit: number): Promise<string | undefined> {
  const reader = response.body?.getReader();
  if (reader === undefined) return "";
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}
