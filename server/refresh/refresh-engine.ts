/**
 * The refresh engine: keeps OAuth credentials fresh on read (`ensureFresh`), on demand
 * (`forceRefresh`) and on schedule (`refreshScheduled`), with one provider call per connection at a
 * time — single flight in process (a map of promises) and across replicas (the store's lease).
 * Correctness never rests on the lease: every save is a compare-and-set on the credential version
 * (the fencing token), and a writer that loses it re-reads and uses the newer credential.
 * It never logs or throws a token; it does not decide what reaches agents (tokens/ does).
 */
import { setTimeout as delay } from "node:timers/promises";
import { isUsable } from "../domain/connection-status.ts";
import { ConflictError, ConnectionNotUsableError, FailedPreconditionError, ProviderUnavailableError } from "../domain/errors.ts";
import { DEFAULT_PROVIDER_TIMEOUT_MS } from "../oauth/request-options.ts";
import { classifyTokenFailure } from "../oauth/token-failure.ts";
import type { ConnectionRecord, CredentialRecord } from "../store/store.ts";
import { createCredentialAccess, type StoredCredential } from "./credential-access.ts";
import type { FlightMode, FlightOutcome, FlightResult } from "./flight-result.ts";
import { createRefreshFlights } from "./refresh-flight.ts";
import type { HeldLease } from "./refresh-lease.ts";
import type { FreshCredential, RefreshEngineOptions } from "./refresh-options.ts";
import { isExpired, mustRefreshOnRead } from "./token-freshness.ts";

export type { CredentialChangedEvent, FreshCredential, RefreshEngineOptions, StatusChangedEvent } from "./refresh-options.ts";

/** What a scheduled refresh did (for logs and tests); see FlightOutcome. */
export type ScheduledOutcome = FlightOutcome;

/** Refreshes connections' OAuth credentials. */
export interface RefreshEngine {
  /**
   * The connection's credential, refreshed first when its OAuth access token expires within the
   * skew. While a refresh is failing transiently (or for a provider misconfiguration) and the
   * stored token has not expired, the stored token is returned and a retry is scheduled.
   * @throws ConnectionNotUsableError (not active, dead grant, expired without refresh token),
   *   ProviderUnavailableError / FailedPreconditionError(provider_misconfigured) when the token has
   *   expired and the provider failed, ConflictError("lease") when another replica held the lease
   *   for longer than the lease time and the token has expired.
   * `stored`: the connection's credential record when the caller read it together with the
   * connection (GetToken's one read); read here otherwise.
   */
  ensureFresh(connection: ConnectionRecord, stored?: CredentialRecord | null): Promise<FreshCredential>;
  /**
   * A credential newer than the one stored when called (another caller's refresh counts), for an
   * agent whose token was refused. Unlike ensureFresh it never falls back to the old token: every
   * failure throws. A credential that cannot be refreshed (no refresh token, entered fields) is
   * returned as stored.
   */
  forceRefresh(connection: ConnectionRecord): Promise<FreshCredential>;
  /** The scheduler's refresh of a due connection (`next_refresh_at` reached); never throws domain errors. */
  refreshScheduled(connection: ConnectionRecord, lease?: HeldLease): Promise<ScheduledOutcome>;
  /**
   * Takes the refresh leases of up to `limit` due connections in one statement, for
   * `refreshScheduled(connection, lease)` each (the scheduler's tick).
   */
  claimDue(limit: number): Promise<{ connection: ConnectionRecord; lease: HeldLease }[]>;
  /** Arms proactive refresh for a connection that has none scheduled (call when a watcher subscribes). */
  keepFresh(connection: ConnectionRecord): Promise<void>;
  /** How many refreshes are in flight in this process. */
  inFlightCount(): number;
  /**
   * Waits, at most `timeoutMs`, for this process's flights to finish and save (shutdown: a rotated
   * refresh token the provider already sent must not die with the process). Resolves to how many
   * were still running at the deadline.
   */
  drain(timeoutMs: number): Promise<number>;
}

/**
 * Creates the engine.
 * @example const engine = createRefreshEngine({ store, vault, providers, refreshGrant: createProviderGrant(oauth), now, random: Math.random, owner, logger, skewMs: config.refreshSkewMs, leaseMs: config.refreshLeaseMs, readWaitMs: config.refreshReadWaitMs });
 */
export function createRefreshEngine(options: RefreshEngineOptions): RefreshEngine {
  const settings = {
    ...options,
    classify: options.classify ?? classifyTokenFailure,
    leaseRenewMs: options.leaseRenewMs ?? Math.max(1, Math.round(options.leaseMs * 0.3)),
    every: options.every ?? everyUnref,
    backoff: options.backoff ?? {},
    sleep: options.sleep ?? ((ms: number) => delay(ms)),
    shouldKeepFresh: options.shouldKeepFresh ?? (() => false),
    saveRetryMs: options.saveRetryMs ?? DEFAULT_SAVE_RETRY_MS,
    takeoverWaitMs: options.takeoverWaitMs ?? DEFAULT_PROVIDER_TIMEOUT_MS,
  };
  const { now, skewMs, logger } = settings;
  const { readWaitMs } = options;
  const credentials = createCredentialAccess(settings);
  const flightRunner = createRefreshFlights({ ...settings, credentials });
  const flights = new Map<string, Promise<FlightResult>>();
  // After a failed refresh of an already expired token, reads fail fast for a while instead of each
  // calling the provider again (one call per read during an outage otherwise). Per process; 0.5 s,
  // then 1 s, and forgotten at the next success. Half-open: once it ends, one read probes the
  // provider while the others keep failing fast, so recovery is seen within about a second.
  const coolDowns = new Map<string, { untilMs: number; failures: number }>();

  /** Records how an ensure flight ended for the cool-down. */
  const settle = (connectionId: string, result: FlightResult) => {
    if (result.kind === "fresh") {
      coolDowns.delete(connectionId);
      return;
    }
    const { error } = result;
    if (error instanceof ProviderUnavailableError || error instanceof FailedPreconditionError) {
      const failures = (coolDowns.get(connectionId)?.failures ?? 0) + 1;
      coolDowns.set(connectionId, { untilMs: now() + Math.min(COOL_DOWN_MAX_MS, 500 * 2 ** (failures - 1)), failures });
    }
  };

  /** An ensure flight for `connection`, joined or started, with its outcome fed to the cool-down. */
  const ensureFlight = (connection: ConnectionRecord, version: number): Promise<FlightResult> => {
    const isNew = !flights.has(connection.id);
    const flight = join(connection, "ensure", version);
    if (isNew)
      flight.then(
        (result) => settle(connection.id, result),
        () => undefined,
      );
    return flight;
  };

  /** Joins the connection's flight in this process, or starts one in `mode`. */
  const join = (connection: ConnectionRecord, mode: FlightMode, observedVersion: number, held?: HeldLease): Promise<FlightResult> => {
    const existing = flights.get(connection.id);
    if (existing) {
      if (held !== undefined) releaseUnused(connection.id, held);
      return existing;
    }
    const flight = flightRunner.run(connection, mode, observedVersion, held).finally(() => {
      if (flights.get(connection.id) === flight) flights.delete(connection.id);
    });
    flights.set(connection.id, flight);
    return flight;
  };

  /** A claimed lease no flight will use: freed at once (else it runs out on its own). */
  const releaseUnused = (connectionId: string, lease: HeldLease) => {
    options.store.releaseRefreshLease(connectionId, lease.token).catch((error: unknown) => {
      options.logger.warn({ connectionId, err: error }, "refresh lease not released; it expires on its own");
    });
  };

  const requireActive = (connection: ConnectionRecord) => {
    if (!isUsable(connection.status)) throw new ConnectionNotUsableError(connection.id, connection.status);
  };

  return {
    async ensureFresh(connection, stored) {
      requireActive(connection);
      const current = stored !== undefined ? credentials.open(connection.id, stored) : await credentials.require(connection.id);
      if (!mustRefreshOnRead(connection, current, now(), skewMs)) return publicView(current);
      if (!isExpired(current.secret, now())) {
        // Still valid: answer now and refresh behind the reader's back, so a slow or hung provider
        // never holds up a read that has a working token.
        ensureFlight(connection, current.version).catch((error: unknown) =>
          logger.warn({ connectionId: connection.id, err: error }, "background refresh failed"),
        );
        return publicView(current);
      }
      const coolDown = coolDowns.get(connection.id);
      if (coolDown !== undefined && (coolDown.untilMs > now() || flights.has(connection.id))) {
        throw new ProviderUnavailableError(connection.providerName);
      }
      const result = await withinMs(ensureFlight(connection, current.version), readWaitMs);
      if (result === undefined) throw new ProviderUnavailableError(connection.providerName);
      if (result.kind === "fresh") return publicView(result.credential);
      const { fallback, error } = result;
      const canFallBack =
        error instanceof ProviderUnavailableError ||
        error instanceof FailedPreconditionError ||
        (error instanceof ConflictError && error.kind === "lease");
      if (canFallBack && fallback !== null && !isExpired(fallback.secret, now())) return publicView(fallback);
      throw error;
    },

    async forceRefresh(connection) {
      requireActive(connection);
      const current = await credentials.require(connection.id);
      // A flight already running may have started before this call; use it only if it brings a
      // newer version than the caller could have seen.
      for (let round = 0; round < 2; round += 1) {
        const existing = flights.get(connection.id);
        if (!existing) break;
        const result = await existing;
        if (result.kind === "failed") throw result.error;
        if (result.credential.version > current.version) return publicView(result.credential);
      }
      const result = await join(connection, "force", current.version);
      if (result.kind === "failed") throw result.error;
      return publicView(result.credential);
    },

    async refreshScheduled(connection, lease) {
      if (!isUsable(connection.status)) {
        if (lease !== undefined) releaseUnused(connection.id, lease);
        return "not_active";
      }
      // Provider failures and state changes are outcomes here (already logged, counted, scheduled);
      // only faults (store, vault) reject.
      return (await join(connection, "scheduled", connection.credentialVersion, lease)).outcome;
    },

    async claimDue(limit) {
      const token = flightRunner.nextLeaseToken();
      const claims = await options.store.claimDueRefreshes(now(), limit, token, options.leaseMs);
      return claims.map(({ connection, wasInterrupted }) => ({ connection, lease: { token, wasInterrupted } }));
    },

    async keepFresh(connection) {
      if (!isUsable(connection.status) || connection.nextRefreshAtMs !== null) return;
      if (connection.credentialExpiresAtSeconds === null) return;
      const at = flightRunner.proactiveRefreshAt(connection.credentialExpiresAtSeconds * 1000);
      await options.store.setNextRefresh(connection.id, at);
    },

    inFlightCount: () => flights.size,

    async drain(timeoutMs) {
      const running = [...flights.values()];
      if (running.length === 0) return 0;
      let settled = 0;
      for (const flight of running) flight.finally(() => (settled += 1)).catch(() => undefined);
      await withinMs(Promise.allSettled(running), timeoutMs);
      return running.length - settled;
    },
  };
}

/** Default time a flight retries saving refreshed tokens through a store outage, ms. */
export const DEFAULT_SAVE_RETRY_MS = 30_000;

/**
 * Longest a flight can still run at shutdown, ms, hence the engine drain's wait: waiting for
 * another holder's lease (≤ leaseMs), the provider call (its total timeout), then either saving
 * (≤ saveRetryMs) or, after a takeover, waiting for the previous holder (≤ takeoverWaitMs), plus 1 s
 * for store round trips. With the defaults 5 + 10 + 30 + 1 = 46 s.
 */
export function refreshDrainBudgetMs(options: Pick<RefreshEngineOptions, "leaseMs" | "saveRetryMs" | "takeoverWaitMs">): number {
  const afterCall = Math.max(options.saveRetryMs ?? DEFAULT_SAVE_RETRY_MS, options.takeoverWaitMs ?? DEFAULT_PROVIDER_TIMEOUT_MS);
  return options.leaseMs + DEFAULT_PROVIDER_TIMEOUT_MS + afterCall + 1_000;
}
/** Longest cool-down between probes of a failing provider, per connection, ms. */
const COOL_DOWN_MAX_MS = 1_000;

/** setInterval that does not keep the process alive. */
function everyUnref(ms: number, fn: () => void): () => void {
  const timer = setInterval(fn, ms);
  timer.unref();
  return () => clearInterval(timer);
}

/** `promise`'s value, or undefined if it takes longer than `ms` (real time; it keeps running). */
async function withinMs<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, ms, undefined);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function publicView(credential: StoredCredential): FreshCredential {
  return { secret: credential.secret, version: credential.version };
}
