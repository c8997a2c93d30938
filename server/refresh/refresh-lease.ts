/**
 * The refresh lease as one flight holds it: a lease token of its own (the replica's owner id and a
 * flight number), and renewal while the flight runs, so a live holder keeps a short lease however
 * slow the provider is and a dead one loses it within one lease. Claiming and waiting for another
 * holder stay in refresh-flight.ts; correctness rests on the credential version, not on this.
 */
import type { Logger } from "../logging/logger.ts";
import type { Store } from "../store/store.ts";

/** A claimed lease: the flight's lease token, and whether its previous holder died mid provider call. */
export interface HeldLease {
  token: string;
  wasInterrupted: boolean;
  /**
   * Set when the flight got tokens from the provider but could not save them: the lease is then
   * not released but left to run out with its calling mark, so the next holder retries at once.
   */
  keepsCallingMark?: boolean;
  /** Set once the save freed the lease in the same write: nothing left to release. */
  isReleased?: boolean;
}

/**
 * Lease tokens for the flights of one replica: `<owner>#<n>`. A flight can then only renew or
 * release the lease it took, never one a later flight of the same process took after it ran out.
 */
export function createLeaseTokens(owner: string): () => string {
  let flights = 0;
  return () => {
    flights += 1;
    return `${owner}#${flights}`;
  };
}

/** What renewal needs. */
export interface LeaseRenewalDeps {
  store: Pick<Store, "renewRefreshLease">;
  now: () => number;
  leaseMs: number;
  leaseRenewMs: number;
  every: (ms: number, fn: () => void) => () => void;
  logger: Logger;
}

/**
 * Renews `token`'s lease on connection `id` every leaseRenewMs until the returned function is
 * called. A renewal still running is not doubled; a lost lease is logged once and not retried
 * (the flight goes on: its save is fenced by the credential version).
 */
export function keepLeaseRenewed(deps: LeaseRenewalDeps, id: string, token: string): () => void {
  let isRenewing = false;
  let isLost = false;
  return deps.every(deps.leaseRenewMs, () => {
    if (isRenewing || isLost) return;
    isRenewing = true;
    deps.store
      .renewRefreshLease(id, token, deps.leaseMs, deps.now())
      .then(
        (isHeld) => {
          if (isHeld) return;
          isLost = true;
          deps.logger.warn({ connectionId: id }, "refresh lease lost mid-flight; the save is fenced by the credential version");
        },
        (error: unknown) => deps.logger.warn({ connectionId: id, err: error }, "refresh lease not renewed; retrying"),
      )
      .finally(() => {
        isRenewing = false;
      });
  });
}
