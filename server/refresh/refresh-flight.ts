/**
 * One refresh flight of one connection, across replicas: take the store lease (or wait for the
 * holder's result), re-read under the lease, call the provider, merge, save as compare-and-set on
 * the version read, and hand failures to flight-failure.ts (dead grant → attention_required; provider
 * configuration and transient failures → backoff, connection stays active) and schedule writes to
 * flight-schedule.ts. The holder renews its short lease while
 * the flight runs, so a dead holder is noticed within one lease; a taker of a lease whose holder died
 * mid provider call retries at once with the last saved refresh token (inside the provider's reuse
 * window, if it has one). Tokens the provider issued are saved through a store outage (retried,
 * lease kept on giving up: flight-recovery.ts). In-process single flight is the engine's job; this
 * module never decides what a caller gets back when a flight fails.
 */

import { isUsable } from "../domain/connection-status.ts";
import { ConflictError, ConnectionNotUsableError, NotFoundError } from "../domain/errors.ts";
import type { OAuthTokenSet } from "../domain/stored-secret.ts";
import type { TokenSetUpdate } from "../oauth/token-set.ts";
import type { ConnectionRecord } from "../store/store.ts";
import type { StoredCredential } from "./credential-access.ts";
import { createFlightFailures } from "./flight-failure.ts";
import { saveWithRetry } from "./flight-recovery.ts";
import { type FlightMode, type FlightResult, freshResult as fresh, notifyListener, type RefreshFlightDeps } from "./flight-result.ts";
import { createFlightSchedule } from "./flight-schedule.ts";
import { mergeTokenSet } from "./merge-token-set.ts";
import type { GrantRequest } from "./provider-grant.ts";
import { createLeaseTokens, type HeldLease, keepLeaseRenewed } from "./refresh-lease.ts";
import type { RefreshMetricOutcome } from "./refresh-metrics.ts";
import { isExpiring, mustRefreshOnRead } from "./token-freshness.ts";

/** Runs the flights of one engine. */
export interface RefreshFlights {
  /** Runs one flight; rejects only on faults (store down, vault error), never for provider failures. */
  run(connection: ConnectionRecord, mode: FlightMode, observedVersion: number, held?: HeldLease): Promise<FlightResult>;
  /** A lease token for claims made outside `run` (the scheduler's claimDueRefreshes). */
  nextLeaseToken(): string;
  /** When to refresh proactively a token expiring at `expiryMs` (epoch ms). */
  proactiveRefreshAt(expiryMs: number): number;
}

/** First and largest pause between lease polls, ms (jittered to 50-100 %). */
const POLL_FIRST_MS = 20;
const POLL_MAX_MS = 250;

/** Creates the flight runner of one engine (its schedule keeps the failed-try counts for backoff). */
export function createRefreshFlights(deps: RefreshFlightDeps): RefreshFlights {
  const { store, credentials, now, owner, logger } = deps;
  const schedule = createFlightSchedule(deps);
  const failures = createFlightFailures(deps, schedule);
  const nextLeaseToken = createLeaseTokens(owner);
  const count = (outcome: RefreshMetricOutcome) => deps.metrics?.refreshes.inc({ outcome });
  const { proactiveRefreshAt, clearSchedule } = schedule;

  /** Takes the lease, or returns what the holder achieved while we polled, bounded by the lease time. */
  async function acquireLease(id: string, mode: FlightMode, observed: number): Promise<HeldLease | FlightResult> {
    let waitedMs = 0;
    let pollMs = POLL_FIRST_MS;
    const token = nextLeaseToken();
    for (;;) {
      const claimed = await store.claimRefreshLease(id, token, deps.leaseMs, now());
      if (claimed) return { token, wasInterrupted: claimed.wasInterrupted };
      const latest = await credentials.require(id);
      const isSettled =
        latest.version > observed && (mode !== "ensure" || !isExpiring(latest.secret, latest.savedAtMs, now(), deps.skewMs));
      if (isSettled) return fresh(latest, "joined");
      // A live holder renews its lease while it works, so this bound can end before a slow provider
      // answers: callers then fall back (ensure) or report lease_busy. A dead holder's lease runs out
      // within leaseMs of its last renewal, and the next poll takes it over.
      if (waitedMs >= deps.leaseMs) {
        const error = new ConflictError("lease", `connection "${id}" has been refreshed elsewhere for over ${deps.leaseMs} ms`);
        return { kind: "failed", error, fallback: latest, outcome: "lease_busy" };
      }
      const pause = Math.max(1, Math.min(deps.leaseMs - waitedMs, Math.round(pollMs * (0.5 + deps.random() / 2))));
      await deps.sleep(pause);
      waitedMs += pause;
      pollMs = Math.min(pollMs * 2, POLL_MAX_MS);
    }
  }

  function isStillNeeded(row: ConnectionRecord, current: StoredCredential, mode: FlightMode, observed: number): boolean {
    switch (mode) {
      case "ensure":
        return mustRefreshOnRead(row, current, now(), deps.skewMs);
      case "force":
        return current.version === observed;
      case "scheduled":
        return current.version === observed && row.nextRefreshAtMs !== null && row.nextRefreshAtMs <= now();
      default: {
        const unreachable: never = mode;
        return unreachable;
      }
    }
  }

  async function underLease(connection: ConnectionRecord, mode: FlightMode, observed: number, lease: HeldLease): Promise<FlightResult> {
    const row = await store.findConnectionById(connection.id);
    if (!row) return { kind: "failed", error: new NotFoundError("connection", connection.id), fallback: null, outcome: "not_active" };
    if (!isUsable(row.status)) {
      schedule.forgetRetries(row.id);
      await clearSchedule(row);
      return { kind: "failed", error: new ConnectionNotUsableError(row.id, row.status), fallback: null, outcome: "not_active" };
    }
    const current = await credentials.require(row.id);
    // After a holder died mid-call, the refresh token it sent may be consumed (rotation): refresh now,
    // whatever the mode, so the retry lands inside the provider's reuse window if it has one.
    if (!lease.wasInterrupted && !isStillNeeded(row, current, mode, observed)) {
      // Due, but the credential changed since it was listed (a re-consent keeps next_refresh_at):
      // schedule from the new credential, or the row would be listed again on every tick.
      if (mode === "scheduled" && row.nextRefreshAtMs !== null && row.nextRefreshAtMs <= now()) await schedule.reschedule(row, current);
      return fresh(current, "current");
    }
    const stored = current.secret;
    if (stored.kind !== "oauth2") {
      await clearSchedule(row);
      return fresh(current, "not_refreshable");
    }
    let directoryEntry;
    try {
      directoryEntry = await deps.providers.getWithSecret(row.providerName);
    } catch (error) {
      // A provider deleted with force leaves its connections unrefreshable: an operator's fault.
      if (error instanceof NotFoundError) return failures.onFailure(row, current, error, false, false);
      throw error;
    }
    const { profile } = directoryEntry.provider;
    const isClientCredentials = profile.authType === "oauth2_client_credentials";
    if (!isClientCredentials && stored.refreshToken === undefined) return failures.withoutRefreshToken(row, current);
    const common = { profile, clientSecret: directoryEntry.clientSecret, params: row.params, scopes: row.scopes };
    const request: GrantRequest = isClientCredentials
      ? { ...common, grant: "client_credentials" }
      : { ...common, grant: "refresh_token", refreshToken: stored.refreshToken ?? "" };
    if (lease.wasInterrupted) {
      const reuseWindowSeconds = profile.oauth?.refreshTokenReuseWindowSeconds ?? null;
      logger.warn(
        { connectionId: row.id, provider: row.providerName, reuseWindowSeconds },
        "the previous lease holder died mid-refresh; retrying at once with the last saved refresh token",
      );
    }
    // Mark the call in flight (and due at the lease end) before it can consume a rotating refresh
    // token; a flight that lost its lease meanwhile must not call, the new holder does.
    if (!(await store.renewRefreshLease(row.id, lease.token, deps.leaseMs, now(), { isCalling: true }))) {
      const error = new ConflictError("lease", `the refresh lease of connection "${row.id}" was taken over`);
      return { kind: "failed", error, fallback: current, outcome: "lease_lost" };
    }
    const startedMs = now();
    let update: TokenSetUpdate;
    try {
      update = await deps.refreshGrant(request);
    } catch (error) {
      deps.metrics?.providerSeconds.observe({ grant: request.grant }, (now() - startedMs) / 1000);
      return failures.onFailure(row, current, error, isClientCredentials, lease.wasInterrupted);
    }
    deps.metrics?.providerSeconds.observe({ grant: request.grant }, (now() - startedMs) / 1000);
    return saveRefreshed(row, current, stored, update, lease);
  }

  async function saveRefreshed(
    row: ConnectionRecord,
    current: StoredCredential,
    stored: OAuthTokenSet,
    update: TokenSetUpdate,
    lease: HeldLease,
  ): Promise<FlightResult> {
    const { tokens, isRotated } = mergeTokenSet(stored, update);
    const nextAt =
      deps.shouldKeepFresh(row.id) && tokens.expiresAtSeconds !== undefined ? proactiveRefreshAt(tokens.expiresAtSeconds * 1000) : null;
    let saved: StoredCredential;
    try {
      // The merged tokens live only here until saved (a rotated refresh token nowhere else): retry
      // through a store outage while the lease is renewed.
      // Saved and released in one write: the lease is freed with the save (see `run`).
      saved = await saveWithRetry(deps, row.id, deps.saveRetryMs, () =>
        credentials.save(row.id, current.version, tokens, nextAt, lease.token),
      );
      lease.isReleased = true;
    } catch (error) {
      if (!(error instanceof ConflictError)) {
        // Given up: keep the lease's calling mark (no release), so the next holder knows a call was
        // interrupted and retries at once with the last saved refresh token.
        lease.keepsCallingMark = true;
        count("save_failed");
        logger.error(
          { connectionId: row.id, provider: row.providerName, err: error, isRotated },
          "a refreshed credential could not be saved; its tokens are lost, the next lease holder retries with the last saved refresh token",
        );
        throw error;
      }
      // The fence: our lease ran out and someone saved a newer version. Never overwrite it.
      const latest = await credentials.require(row.id);
      count("superseded");
      logger.warn(
        { connectionId: row.id, provider: row.providerName, version: latest.version },
        "refresh superseded by a newer credential (the lease expired mid-refresh)",
      );
      await schedule.rescheduleAfterLoss(row, latest);
      return fresh(latest, "superseded");
    }
    schedule.forgetRetries(row.id);
    const outcome = isRotated ? "rotated" : "success";
    count(outcome);
    logger.info({ connectionId: row.id, provider: row.providerName, version: saved.version, outcome }, "credential refreshed");
    notifyListener(logger, () =>
      deps.onCredentialChanged?.({ tenantId: row.tenantId, connectionId: row.id, version: saved.version, outcome }),
    );
    return fresh(saved, outcome);
  }

  return {
    async run(connection, mode, observedVersion, held) {
      const lease = held ?? (await acquireLease(connection.id, mode, observedVersion));
      if ("kind" in lease) return lease;
      const stopRenewing = keepLeaseRenewed(deps, connection.id, lease.token);
      try {
        return await underLease(connection, mode, observedVersion, lease);
      } finally {
        stopRenewing();
        if (!lease.keepsCallingMark && lease.isReleased !== true)
          await store.releaseRefreshLease(connection.id, lease.token).catch((error: unknown) => {
            logger.warn({ connectionId: connection.id, err: error }, "refresh lease not released; it expires on its own");
          });
      }
    },
    proactiveRefreshAt,
    nextLeaseToken,
  };
}
