/**
 * OpenID Connect / RFC 8414 discovery: fetches an issuer's metadata with oauth4webapi (which checks
 * that the document names the same issuer) and caches it per issuer, honouring Cache-Control
 * max-age within bounds. It never caches failures, and it refuses metadata whose endpoints are not
 * https (http only on loopback).
 */
import { type AuthorizationServer, discoveryRequest, processDiscoveryResponse } from "oauth4webapi";
import { createRequestOptions, type FetchFn, isAllowedEndpointUrl } from "./request-options.ts";

/** Provider metadata Nexus can't use: an endpoint is missing, or not https (http only on loopback). */
export class ProviderMetadataError extends Error {
  override readonly name = "ProviderMetadataError";
  /** The metadata member at fault, e.g. "token_endpoint". */
  readonly member: string;
  readonly problem: "missing" | "insecure";
  constructor(member: string, problem: ProviderMetadataError["problem"]) {
    super(
      problem === "missing"
        ? `provider metadata has no "${member}" (configure it in the profile or fix the issuer)`
        : `provider metadata "${member}" is not an https URL (http only on loopback)`,
    );
    this.member = member;
    this.problem = problem;
  }
}

/** Fetches and caches issuer metadata. */
export interface DiscoveryCache {
  /** The issuer's metadata, from cache when fresh. Rejects with oauth4webapi or network errors. */
  discover(issuer: string): Promise<AuthorizationServer>;
}

/** Options of `createDiscoveryCache`. */
export interface DiscoveryCacheOptions {
  /** Clock in epoch milliseconds. */
  now: () => number;
  fetch?: FetchFn;
  /** Per-request timeout, milliseconds (default 10 s). */
  timeoutMs?: number;
  /** Lifetime when the response has no max-age: default 1 hour. */
  defaultMaxAgeMs?: number;
  /** Lower bound of a max-age (also used for no-store/no-cache): default 1 minute, so one consent's two steps share a fetch. */
  minMaxAgeMs?: number;
  /** Upper bound of a max-age: default 24 hours. */
  maxMaxAgeMs?: number;
  /** Most issuers kept; the oldest entry is dropped beyond it. Default 256. */
  maxEntries?: number;
}

const ENDPOINT_MEMBERS = ["authorization_endpoint", "token_endpoint", "jwks_uri", "revocation_endpoint", "userinfo_endpoint"] as const;

/**
 * Creates a discovery cache.
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig
 * @see https://www.rfc-editor.org/rfc/rfc9111#section-5.2.2.1 (max-age)
 */
export function createDiscoveryCache(options: DiscoveryCacheOptions): DiscoveryCache {
  const defaultMaxAgeMs = options.defaultMaxAgeMs ?? 60 * 60 * 1000;
  const minMs = options.minMaxAgeMs ?? 60 * 1000;
  const maxMs = options.maxMaxAgeMs ?? 24 * 60 * 60 * 1000;
  const maxEntries = options.maxEntries ?? 256;
  const entries = new Map<string, { metadata: AuthorizationServer; expiresAtMs: number }>();
  const inFlight = new Map<string, Promise<AuthorizationServer>>();

  async function fetchMetadata(issuer: string): Promise<AuthorizationServer> {
    const issuerUrl = new URL(issuer);
    const http = createRequestOptions({ urls: [issuer], fetch: options.fetch, timeoutMs: options.timeoutMs });
    const response = await discoveryRequest(issuerUrl, http);
    const lifetimeMs = lifetimeFrom(response.headers.get("cache-control"), defaultMaxAgeMs, minMs, maxMs);
    const metadata = await processDiscoveryResponse(issuerUrl, response);
    for (const member of ENDPOINT_MEMBERS) {
      const value = metadata[member];
      if (value !== undefined && (typeof value !== "string" || !isAllowedEndpointUrl(value))) {
        throw new ProviderMetadataError(member, "insecure");
      }
    }
    if (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string);
    entries.set(issuer, { metadata, expiresAtMs: options.now() + lifetimeMs });
    return metadata;
  }

  return {
    discover(issuer) {
      const cached = entries.get(issuer);
      if (cached && options.now() < cached.expiresAtMs) return Promise.resolve(cached.metadata);
      entries.delete(issuer);
      // Single flight: concurrent consents for one issuer share one request.
      let pending = inFlight.get(issuer);
      if (!pending) {
        pending = fetchMetadata(issuer).finally(() => inFlight.delete(issuer));
        inFlight.set(issuer, pending);
      }
      return pending;
    },
  };
}

/** The cache lifetime a Cache-Control header asks for, clamped to [minMs, maxMs]. */
function lifetimeFrom(cacheControl: string | null, defaultMs: number, minMs: number, maxMs: number): number {
  const directives = (cacheControl ?? "")
    .toLowerCase()
    .split(",")
    .map((d) => d.trim());
  if (directives.includes("no-store") || directives.includes("no-cache")) return minMs;
  const maxAge = directives.map((d) => /^max-age=(\d+)$/.exec(d)).find((m) => m !== null);
  const wantedMs = maxAge ? Number(maxAge[1]) * 1000 : defaultMs;
  return Math.min(maxMs, Math.max(minMs, wantedMs));
}
