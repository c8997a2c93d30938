/**
 * The vocabulary of one refresh flight (one connection's refresh across replicas, from taking the
 * lease to the save): why it runs, how it ended, what it returns, and what it needs from the
 * engine. Shared by refresh-flight.ts, flight-failure.ts and flight-schedule.ts; no behaviour here
 * beyond building a result and calling a listener safely.
 */
import type { Logger } from "../logging/logger.ts";
import type { CredentialAccess, StoredCredential } from "./credential-access.ts";
import type { RefreshMetricOutcome } from "./refresh-metrics.ts";
import type { RefreshEngineOptions } from "./refresh-options.ts";

/** Why a flight runs: a read found the token expiring, a caller forces it, or it is due. */
export type FlightMode = "ensure" | "force" | "scheduled";

/**
 * How a flight ended: a refresh outcome, or current (nothing to do under the lease), joined
 * (another replica refreshed while we waited), lease_busy, lease_lost, not_refreshable, not_active.
 */
export type FlightOutcome = RefreshMetricOutcome | "current" | "joined" | "lease_busy" | "lease_lost" | "not_refreshable" | "not_active";

/** A flight's result; on failure, the stored credential (if any) a caller may still fall back to. */
export type FlightResult =
  | { kind: "fresh"; credential: StoredCredential; outcome: FlightOutcome }
  | { kind: "failed"; error: Error; fallback: StoredCredential | null; outcome: FlightOutcome };

/** What a flight needs: the engine's options with defaults applied, and credential access. */
export type RefreshFlightDeps = Required<
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

/** A flight that ended with `credential` (fresh or as good as it gets). */
export function freshResult(credential: StoredCredential, outcome: FlightOutcome): FlightResult {
  return { kind: "fresh", credential, outcome };
}

/** Calls an event listener; one that throws is logged and never fails the flight. */
export function notifyListener(logger: Logger, emit: () => void): void {
  try {
    emit();
  } catch (error) {
    logger.error({ err: error }, "a refresh event listener threw");
  }
}
