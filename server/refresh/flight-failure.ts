/**
 * What a flight does when it cannot refresh: it sorts the provider's refusal (dead grant →
 * attention_required; provider configuration and transient failures → backoff, the connection
 * stays active), handles a token set without a refresh token (→ expired once the access token is),
 * and makes the status change through the transition path. It never decides what a caller gets
 * back beyond the flight's result, and never touches the lease.
 */
import type { ConnectionStatus, StatusReason } from "../domain/connection-status.ts";
import { ConflictError, ConnectionNotUsableError, FailedPreconditionError, ProviderUnavailableError } from "../domain/errors.ts";
import { transition } from "../lifecycle/connection-transition.ts";
import type { ConnectionRecord } from "../store/store.ts";
import type { StoredCredential } from "./credential-access.ts";
import { waitForNewerVersion } from "./flight-recovery.ts";
import { type FlightResult, freshResult, notifyListener, type RefreshFlightDeps } from "./flight-result.ts";
import type { FlightSchedule } from "./flight-schedule.ts";
import type { RefreshMetricOutcome } from "./refresh-metrics.ts";
import { isExpired } from "./token-freshness.ts";

/** The failure paths of a flight. */
export interface FlightFailures {
  /**
   * Sorts a failed grant call. `isClientCredentials`: there is no user grant to lose;
   * `wasInterrupted`: the flight took over from a holder that died mid provider call.
   */
  onFailure(
    row: ConnectionRecord,
    current: StoredCredential,
    error: unknown,
    isClientCredentials: boolean,
    wasInterrupted: boolean,
  ): Promise<FlightResult>;
  /** A token set without a refresh token: served while valid, the connection expired after. */
  withoutRefreshToken(row: ConnectionRecord, current: StoredCredential): Promise<FlightResult>;
}

/** Creates the failure paths over the engine's deps and the flights' schedule. */
export function createFlightFailures(deps: RefreshFlightDeps, schedule: FlightSchedule): FlightFailures {
  const { store, credentials, now, logger } = deps;
  const count = (outcome: RefreshMetricOutcome) => deps.metrics?.refreshes.inc({ outcome });

  /** Moves active → `status` through the table, clears the schedule, emits; returns the status the connection has. */
  async function leaveActive(row: ConnectionRecord, status: ConnectionStatus, reason: StatusReason): Promise<ConnectionStatus> {
    schedule.forgetRetries(row.id);
    try {
      await transition(store, row, status, reason, { nextRefreshAtMs: null });
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      return (await store.findConnectionById(row.id))?.status ?? status;
    }
    notifyListener(logger, () => deps.onStatusChanged?.({ tenantId: row.tenantId, connectionId: row.id, status, reason }));
    return status;
  }

  return {
    /**
     * No refresh token (a provider that issued none, e.g. Google without access_type=offline): the
     * access token is all there is. Still valid → serve it and schedule nothing. Expired → the
     * connection's credentials are dead, which is protocol.md's `expired` (not attention_required,
     * which means a grant that failed): reason "no_refresh_token", a person must consent again.
     */
    async withoutRefreshToken(row, current) {
      if (!isExpired(current.secret, now())) {
        await schedule.clearSchedule(row);
        return freshResult(current, "not_refreshable");
      }
      count("no_refresh_token");
      const status = await leaveActive(row, "expired", "no_refresh_token");
      return { kind: "failed", error: new ConnectionNotUsableError(row.id, status), fallback: null, outcome: "no_refresh_token" };
    },

    async onFailure(row, current, error, isClientCredentials, wasInterrupted) {
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
            await schedule.rescheduleAfterLoss(row, latest);
            return freshResult(latest, "superseded");
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
          await schedule.scheduleRetry(row, current);
          logger.error(log, "the provider refused the refresh: check its profile and client registration");
          const reason = `the token endpoint refused the refresh (${code ?? failure.status ?? failure.kind})`;
          const err = new FailedPreconditionError("provider_misconfigured", row.providerName, reason, { cause: error });
          return { kind: "failed", error: err, fallback: current, outcome: "config_error" };
        }
        case "transient": {
          count("transient");
          await schedule.scheduleRetry(row, current);
          logger.warn(log, "refresh failed transiently; retry scheduled");
          const err = new ProviderUnavailableError(row.providerName, { cause: error });
          return { kind: "failed", error: err, fallback: current, outcome: "transient" };
        }
        default: {
          const unreachable: never = blame;
          return unreachable;
        }
      }
    },
  };
}
