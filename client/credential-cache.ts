/**
 * The credential cache: serves a connection's credential until shortly before `expires_at`, asks
 * Nexus once for all concurrent callers (single-flight), and accepts credentials pushed by a watch.
 * It never schedules refreshes on its own (a static credential is simply kept), and a newer
 * version is never replaced by an older one.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Credential } from "../gen/nexus/v1/credential_pb.ts";
import { type Clock, systemClock } from "./clock.ts";
import { isTransient, NexusUnavailableError, toClientError } from "./errors.ts";
import { errorFields, type Logger, silentLogger } from "./logger.ts";
import type { TokenClient } from "./watch.ts";

/** Options of {@link createCredentialCache}. */
export interface CredentialCacheOptions {
  /** The TokenService client (`NexusClient.tokens`). */
  tokens: TokenClient;
  /** A credential counts as stale this long before its `expires_at`. Default 60 000 ms. */
  skewMs?: number;
  /**
   * A credential fetched less than this long ago is served even inside the skew window, so a
   * provider issuing tokens shorter-lived than the skew cannot turn every call into a fetch.
   * Default 1 000 ms.
   */
  minRefetchIntervalMs?: number;
  /** Deadline of each GetToken / RefreshConnection call, so a hung server cannot stall callers. Default 15 000 ms. */
  requestTimeoutMs?: number;
  /** Default: the system clock. */
  clock?: Clock;
  /** Default: silent. */
  logger?: Logger;
}

/** Options of one cache read. */
export interface GetCredentialOptions {
  /** Gives up waiting (the shared fetch continues for the other callers). */
  signal?: AbortSignal;
}

/** Options of a forced refresh. */
export interface RefreshCredentialOptions extends GetCredentialOptions {
  /**
   * The version the caller found not to work. When the cache already holds a newer one (another
   * caller refreshed meanwhile), it is returned without asking Nexus again.
   */
  staleVersion?: bigint;
}

/** A per-client cache of connection credentials. */
export interface CredentialCache {
  /**
   * The connection's credential: cached while fresh, else fetched with GetToken (one request for
   * all concurrent callers). Throws AttentionRequiredError, ConnectionRevokedError,
   * NexusUnavailableError (only when no cached credential is still valid) or the ConnectError.
   */
  getCredential(connectionId: string, options?: GetCredentialOptions): Promise<Credential>;
  /** Forces RefreshConnection (single-flight) and caches the result; for a provider's 401. */
  refreshCredential(connectionId: string, options?: RefreshCredentialOptions): Promise<Credential>;
  /** Feeds a credential (from a watch); ignored when the cache already holds a newer version. */
  put(credential: Credential): void;
  /** The cached credential, fresh or not, without any request. */
  peek(connectionId: string): Credential | undefined;
  /** Drops the cached credential of a connection. */
  invalidate(connectionId: string): void;
}

interface Entry {
  credential: Credential;
  freshUntilMs: number;
}

/**
 * Creates a credential cache over a TokenService client. `NexusClient.credentials` is one, fed
 * by the client's watches; create another only to change the skew.
 *
 * @example
 * const cache = createCredentialCache({ tokens: client.tokens, skewMs: 30_000 });
 * const credential = await cache.getCredential(connectionId);
 */
export function createCredentialCache(options: CredentialCacheOptions): CredentialCache {
  const { tokens } = options;
  const skewMs = options.skewMs ?? 60_000;
  const minRefetchIntervalMs = options.minRefetchIntervalMs ?? 1_000;
  const callOptions = { timeoutMs: options.requestTimeoutMs ?? 15_000 };
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const entries = new Map<string, Entry>();
  const fetching = new Map<string, Promise<Credential>>();
  const refreshing = new Map<string, Promise<Credential>>();

  function store(credential: Credential): void {
    const current = entries.get(credential.connectionId);
    if (current && current.credential.version > credential.version) return;
    const now = clock.now();
    const freshUntilMs =
      credential.expiresAt === 0n
        ? Number.POSITIVE_INFINITY // static credential: kept until invalidated or replaced
        : Math.max(Number(credential.expiresAt) * 1000 - skewMs, now + minRefetchIntervalMs);
    entries.set(credential.connectionId, { credential, freshUntilMs });
  }

  function isStillValid(credential: Credential): boolean {
    return credential.expiresAt === 0n || clock.now() < Number(credential.expiresAt) * 1000;
  }

  async function fetchCurrent(connectionId: string): Promise<Credential> {
    try {
      const { credential } = await tokens.getToken({ connectionId }, callOptions);
      if (!credential) throw new ConnectError("GetToken returned no credential", Code.Internal);
      store(credential);
      return entries.get(connectionId)?.credential ?? credential;
    } catch (err) {
      // No caller signal reaches this shared call, so a transient code (a reset stream, a server
      // killed mid-call) can only mean Nexus is unreachable right now.
      const mapped = isTransient(err) ? new NexusUnavailableError(connectionId, { cause: err }) : toClientError(err, connectionId);
      const cached = entries.get(connectionId)?.credential;
      // Riding out a Nexus outage: a credential inside the skew window still works at the provider.
      if (mapped instanceof NexusUnavailableError && cached && isStillValid(cached)) {
        logger.warn(
          { connection_id: connectionId, version: Number(cached.version), ...errorFields(err) },
          "nexus unavailable; serving cached credential",
        );
        return cached;
      }
      if (!(mapped instanceof NexusUnavailableError)) entries.delete(connectionId);
      throw mapped;
    }
  }

  async function forceRefresh(connectionId: string): Promise<Credential> {
    try {
      const { credential } = await tokens.refreshConnection({ connectionId }, callOptions);
      if (!credential) throw new ConnectError("RefreshConnection returned no credential", Code.Internal);
      store(credential);
      return entries.get(connectionId)?.credential ?? credential;
    } catch (err) {
      // A server without the refresh engine answers Unimplemented; GetToken (which refreshes
      // near expiry on the server) is the best remaining way to get a newer credential.
      if (err instanceof ConnectError && err.code === Code.Unimplemented) {
        logger.debug({ connection_id: connectionId }, "RefreshConnection unimplemented; falling back to GetToken");
        entries.delete(connectionId);
        return fetchCurrent(connectionId);
      }
      throw toClientError(err, connectionId);
    }
  }

  function singleFlight(
    inflight: Map<string, Promise<Credential>>,
    connectionId: string,
    run: (connectionId: string) => Promise<Credential>,
  ): Promise<Credential> {
    let promise = inflight.get(connectionId);
    if (!promise) {
      promise = run(connectionId).finally(() => inflight.delete(connectionId));
      inflight.set(connectionId, promise);
    }
    return promise;
  }

  return {
    getCredential(connectionId, getOptions = {}) {
      const entry = entries.get(connectionId);
      if (entry && clock.now() < entry.freshUntilMs) return Promise.resolve(entry.credential);
      return raceAbort(singleFlight(fetching, connectionId, fetchCurrent), getOptions.signal);
    },
    refreshCredential(connectionId, refreshOptions = {}) {
      const cached = entries.get(connectionId)?.credential;
      const { staleVersion } = refreshOptions;
      if (cached && staleVersion !== undefined && cached.version > staleVersion) return Promise.resolve(cached);
      return raceAbort(singleFlight(refreshing, connectionId, forceRefresh), refreshOptions.signal);
    },
    put: store,
    peek: (connectionId) => entries.get(connectionId)?.credential,
    invalidate(connectionId) {
      entries.delete(connectionId);
    },
  };
}

/** Settles with `promise`, or rejects with the abort reason first; the promise itself runs on. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}
