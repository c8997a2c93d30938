/**
 * One refresh flight of one connection, across replicas: take the store lease (or wait for the
 * holder's result), re-read under the lease, call the provider, merge, save as compare-and-set on
 * the version read, and sort failures (dead grant → attention_required; provider configuration and
 * transient failures → backoff, connection stays active). The holder renews its short lease while
 * the flight runs, so a dead holder is noticed within one lease; a taker of a lease whose holder died
 * mid provider call retries at once with the last saved refresh token (inside the provider's reuse
 * window, if it has one). Tokens the provider issued are saved through a store outage (retried,
 * lease kept on giving up: flight-recovery.ts). In-process single flight is the engine's job; this
 * module never decides what a caller gets back when a flight fails.
 */

import { type ConnectionStatus, isUsable, type StatusReason } from "../domain/connection-status.ts";
import {
  ConflictError,
  ConnectionNotUsableError,
  FailedPreconditionError,
  NotFoundError,
  ProviderUnavailableError,
} from "../domain/errors.ts";
import type { OAuthTokenSet } from "../domain/stored-secret.ts";
import type { TokenSetUpdate } from "../oauth/token-set.ts";
import type { ConnectionRecord } from "../store/store.ts";
import { retryDelayMs } from "./backoff.ts";
import type { CredentialAccess, StoredCredential } from "./credential-access.ts";
import { saveWithRetry, waitForNewerVersion } from "./flight-recovery.ts";
import { mergeTokenSet } from "./merge-token-set.ts";
import type { GrantRequest } from "./provider-grant.ts";
import { createLeaseTokens, type HeldLease, keepLeaseRenewed } from "./refresh-lease.ts";
import type { RefreshMetricOutcome } from "./refresh-metrics.ts";
import type { RefreshEngineOptions } from "./refresh-options.ts";
import { expiresAtMs, isExpired, isExpiring, mustRefreshOnRead, proactiveRefreshAtMs } from "./token-freshness.ts";

/** Why a flight runs: a read found the token expiring, a caller forces it, or it is due. */
export type FlightMode = "ensure" | "force" | "scheduled";

/**
 * How a flight ended: a refresh outcome, or current (nothing to do under the lease), joined
 * (another replica refreshed while we waited), lease_busy, not_refreshable, not_active.
 */
export type FlightOutcome = RefreshMetricOutcome | "current" | "joined" | "lease_busy" | "lease_lost" | "not_refreshable" | "not_active";

/** A flight's result; on failure, the stored credential (if any) a caller may still fall back to. */
export type FlightResult =
  | { kind: "fresh"; credential: StoredCredential; outcome: FlightOutcome }
  | { kind: "failed"; error: Error; fallback: StoredCredential | null; outcome: FlightOutcome };

/** What a flight needs: the engine's options with defaults applied, and credential access. */
export type RefreshAttemptDeps = Required<
  Pick<
    RefreshEngineOptions,
    | "store"
    | "providers"
    | "refreshGrant"
    | "classify"
    | "now"
    | "random"
    | "owner"
    | "skewMs"
    | "leaseMs"
    | "leaseRenewMs"
    | "every"
    | "backoff"
    | "sleep"
    | "logger"
    | "shouldKeepFresh"
    | "saveRetryMs"
    | "takeoverWaitMs"
  >
> &
  Pick<RefreshEngineOptions, "metrics" | "onCredentialChanged" | "onStatusChanged"> & { credentials: CredentialAccess };

/** Runs flights. */
export interface RefreshAttempt {
  /**
   * Runs one flight; rejects only on faults (store down, vault error), never for provider failures.
   * `held`: a lease already claimed for this flight (claimDueRefreshes), instead of claiming one.
   */
  run(connection: ConnectionRecord, mode: FlightMode, observedVersion: number, held?: HeldLease): Promise<FlightResult>;
  /** A lease token for claims made outside `run` (the scheduler's claimDueRefreshes). */
  nextLeaseToken(): string;
  /** When to refresh proactively a token expiring at `expiryMs` (epoch ms). */
  proactiveRefreshAt(expiryMs: number): number;
}

/** First and largest pause between lease polls, ms (jittered to 50-100 %). */
const POLL_FIRST_MS = 20;
const POLL_MAX_MS = 250;

/** Creates the flight runner; `retryCounts` (failed tries per connection since its last success, for backoff) lives as long as it does. */
export function createRefreshAttempt(deps: RefreshAttemptDeps): RefreshAttempt {
  const { store, credentials, now, owner, logger } = deps;
  const retryCounts = new Map<string, number>();
  const nextLeaseToken = createLeaseTokens(owner);
  const fresh = (credential: StoredCredential, outcome: FlightOutcome): FlightResult => ({ kind: "fresh", credential, outcome });
  const count = (outcome: RefreshMetricOutcome) => deps.metrics?.refreshes.inc({ outcome });
  const proactiveRefreshAt = (expiryMs: number) => proactiveRefreshAtMs(expiryMs, now(), deps.skewMs, deps.random);

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
      retryCounts.delete(row.id);
      await clearSchedule(row);
      return { kind: "failed", error: new ConnectionNotUsableError(row.id, row.status), fallback: null, outcome: "not_active" };
    }
    const current = await credentials.require(row.id);
    // After a holder died mid-call, the refresh token it sent may be consumed (rotation): refresh now,
    // whatever the mode, so the retry lands inside the provider's reuse window if it has one.
    if (!lease.wasInterrupted && !isStillNeeded(row, current, mode, observed)) {
      // Due, but the credential changed since it was listed (a re-consent keeps next_refresh_at):
      // schedule from the new credential, or the row would be listed again on every tick.
      if (mode === "scheduled" && row.nextRefreshAtMs !== null && row.nextRefreshAtMs <= now()) await reschedule(row, current);
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
      if (error instanceof NotFoundError) return onFailure(row, current, error, false, false);
      throw error;
    }
    const { profile } = directoryEntry.provider;
    const isClientCredentials = profile.authType === "oauth2_client_credentials";
    if (!isClientCredentials && stored.refreshToken === undefined) return withoutRefreshToken(row, current);
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
      return onFailure(row, current, error, isClientCredentials, lease.wasInterrupted);
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
      await rescheduleAfterLoss(row, latest);
      return fresh(latest, "superseded");
    }
    retryCounts.delete(row.id);
    const outcome = isRotated ? "rotated" : "success";
    count(outcome);
    logger.info({ connectionId: row.id, provider: row.providerName, version: saved.version, outcome }, "credential refreshed");
    notify(() => deps.onCredentialChanged?.({ tenantId: row.tenantId, connectionId: row.id, version: saved.version, outcome }));
    return fresh(saved, outcome);
  }

  /**
   * No refresh token (a provider that issued none, e.g. Google without access_type=offline): the
   * access token is all there is. Still valid → serve it and schedule nothing. Expired → the
   * connection's credentials are dead, which is protocol.md's `expired` (not attention_required,
   * which means a grant that failed): reason "no_refresh_token", a person must consent again.
   */
  async function withoutRefreshToken(row: ConnectionRecord, current: StoredCredential): Promise<FlightResult> {
    if (!isExpired(current.secret, now())) {
      await clearSchedule(row);
      return fresh(current, "not_refreshable");
    }
    count("no_refresh_token");
    const status = await leaveActive(row, "expired", "no_refresh_token");
    return { kind: "failed", error: new ConnectionNotUsableError(row.id, status), fallback: null, outcome: "no_refresh_token" };
  }

  async function onFailure(
    row: ConnectionRecord,
    current: StoredCredential,
    error: unknown,
    isClientCredentials: boolean,
    wasInterrupted: boolean,
  ): Promise<FlightResult> {
    const failure = deps.classify(error);
    // A client-credentials grant has no user grant to lose: any refusal is the client registration's.
    const blame = failure.blame === "user_grant" && isClientCredentials ? "provider_config" : failure.blame;
    const code = failure.error !== undefined && /^[a-z_]{1,64}$/.test(failure.error) ? failure.error : undefined;
    const facts = { kind: failure.kind, blame, status: failure.status, error: code };
    const log = { connectionId: row.id, provider: row.providerName, failure: facts };
    switch (blame) {
      case "user_grant": {
        // invalid_grant for a refresh token someone already replaced is not a dead grant (the Go
        // version's race): use the newer credential.
        let latest: StoredCredential | null = await credentials.require(row.id);
        // After a takeover the "dead" holder may only have been slow (its renewals stuck in a busy
        // pool): it then saves the rotated token soon. Wait up to one provider call for that before
        // declaring the grant dead.
        if (latest.version === current.version && wasInterrupted) {
          latest = await waitForNewerVersion(deps, row.id, current.version, deps.takeoverWaitMs, () => credentials.require(row.id));
        }
        if (latest !== null && latest.version !== current.version) {
          count("superseded");
          logger.info(log, "refresh token was already replaced; using the newer credential");
          await rescheduleAfterLoss(row, latest);
          return fresh(latest, "superseded");
        }
        // Refused right after a holder died mid-call: the rotated token died with it and the provider
        // had no (or too short a) reuse window. Told apart so operators see crashes, not users.
        const reason = wasInterrupted ? "refresh_lost_in_crash" : "invalid_grant";
        count(reason);
        const status = await leaveActive(row, "attention_required", reason);
        logger.warn({ ...log, reason }, "refresh grant is dead; the connection needs attention");
        return { kind: "failed", error: new ConnectionNotUsableError(row.id, status, { cause: error }), fallback: null, outcome: reason };
      }
      case "provider_config": {
        count("config_error");
        await scheduleRetry(row, current);
        logger.error(log, "the provider refused the refresh: check its profile and client registration");
        const reason = `the token endpoint refused the refresh (${code ?? failure.status ?? failure.kind})`;
        const err = new FailedPreconditionError("provider_misconfigured", row.providerName, reason, { cause: error });
        return { kind: "failed", error: err, fallback: current, outcome: "config_error" };
      }
      case "transient": {
        count("transient");
        await scheduleRetry(row, current);
        logger.warn(log, "refresh failed transiently; retry scheduled");
        return {
          kind: "failed",
          error: new ProviderUnavailableError(row.providerName, { cause: error }),
          fallback: current,
          outcome: "transient",
        };
      }
      default: {
        const unreachable: never = blame;
        return unreachable;
      }
    }
  }

  /** Schedules the next attempt with backoff, no later than the stored token's expiry. */
  async function scheduleRetry(row: ConnectionRecord, current: StoredCredential): Promise<void> {
    const attempt = (retryCounts.get(row.id) ?? 0) + 1;
    retryCounts.set(row.id, attempt);
    const nowMs = now();
    let at = nowMs + retryDelayMs(attempt, deps.backoff, deps.random);
    const expiry = expiresAtMs(current.secret);
    if (expiry !== undefined && expiry > nowMs) at = Math.min(at, expiry);
    try {
      await store.setNextRefresh(row.id, at);
    } catch (error) {
      logger.warn({ connectionId: row.id, err: error }, "could not schedule the refresh retry");
    }
  }

  /** Moves active → `status` (compare-and-set), clears the schedule, emits; returns the status the connection has. */
  async function leaveActive(row: ConnectionRecord, status: ConnectionStatus, reason: StatusReason): Promise<ConnectionStatus> {
    retryCounts.delete(row.id);
    try {
      await store.updateConnectionStatus(row.tenantId, row.id, "active", status, reason, { nextRefreshAtMs: null });
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      return (await store.findConnectionById(row.id))?.status ?? status;
    }
    notify(() => deps.onStatusChanged?.({ tenantId: row.tenantId, connectionId: row.id, status, reason }));
    return status;
  }

  async function reschedule(row: ConnectionRecord, current: StoredCredential): Promise<void> {
    const expiry = expiresAtMs(current.secret);
    const at = deps.shouldKeepFresh(row.id) && expiry !== undefined ? proactiveRefreshAt(expiry) : null;
    await store.setNextRefresh(row.id, at);
  }

  /**
   * After losing to a newer credential: if next_refresh_at is still this flight's calling mark (the
   * lease end), schedule from the newer credential instead, or the scheduler would refresh (and
   * rotate) again at once. A real schedule the winner saved is left alone.
   */
  async function rescheduleAfterLoss(row: ConnectionRecord, latest: StoredCredential): Promise<void> {
    try {
      const stored = await store.findConnectionById(row.id);
      const markedAt = stored?.nextRefreshAtMs ?? null;
      if (stored == null || !isUsable(stored.status) || markedAt === null || markedAt > now() + deps.leaseMs) return;
      const expiry = expiresAtMs(latest.secret);
      const wasScheduled = deps.shouldKeepFresh(row.id) || row.nextRefreshAtMs !== null;
      await store.setNextRefresh(row.id, wasScheduled && expiry !== undefined ? proactiveRefreshAt(expiry) : null);
    } catch (error) {
      logger.warn({ connectionId: row.id, err: error }, "could not reschedule after a superseded refresh");
    }
  }

  async function clearSchedule(row: ConnectionRecord): Promise<void> {
    if (row.nextRefreshAtMs !== null) await store.setNextRefresh(row.id, null);
  }

  function notify(emit: () => void): void {
    try {
      emit();
    } catch (error) {
      logger.error({ err: error }, "a refresh event listener threw");
    }
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
