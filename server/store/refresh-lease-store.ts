/**
 * The refresh lease part of the storage contract: per-connection refresh leases, the refresh schedule, and `RefreshLeaseStore`.
 */
import type { ConnectionRecord } from "./connection-store.ts";

/** A due connection whose refresh lease `claimDueRefreshes` took. */
export interface DueClaim {
  connection: ConnectionRecord;
  wasInterrupted: boolean;
}

/**
 * What the refresh engine and scheduler need beyond credentials: a per-connection refresh lease
 * (so one replica at a time asks the provider) and the `next_refresh_at` schedule. The lease only
 * avoids duplicate provider calls; correctness rests on `saveCredential`'s version compare-and-set
 * (the fencing token), so a holder whose lease ran out can never overwrite a newer credential.
 */
export interface RefreshLeaseStore {
  /**
   * Takes the connection's refresh lease for `owner` until `nowMs + leaseMs`, atomically, if it is
   * free, expired (`lease_expires_at <= nowMs`) or already `owner`'s (then it is extended). Returns
   * the credential version at the time of the claim, or null while another owner's lease runs.
   * `wasInterrupted` is true when the lease was taken over from another owner that had marked a
   * provider call in flight (see renewRefreshLease) and never released: it died or stalled mid-call,
   * so a rotated refresh token may be lost. The mark carries over until released, so a taker that
   * dies too passes it on. NotFoundError when the connection is missing. Does not change `updatedAtMs`.
   */
  claimRefreshLease(
    connectionId: string,
    owner: string,
    leaseMs: number,
    nowMs: number,
  ): Promise<{ credentialVersion: number; wasInterrupted: boolean } | null>;
  /**
   * Extends `owner`'s lease to `nowMs + leaseMs` if `owner` still holds it (expired or not, as long
   * as nobody took it over); false when it was lost. With `isCalling`, also marks a provider call in
   * flight and sets `next_refresh_at` to the new lease end, so if the holder dies the scheduler
   * retries as soon as the lease runs out. Does not change `updatedAtMs`.
   */
  renewRefreshLease(
    connectionId: string,
    owner: string,
    leaseMs: number,
    nowMs: number,
    options?: { isCalling?: boolean },
  ): Promise<boolean>;
  /** Frees the lease (and its provider-call mark) if `owner` holds it (whether or not it expired); otherwise does nothing. */
  releaseRefreshLease(connectionId: string, owner: string): Promise<void>;
  /**
   * Up to `limit` active connections with `next_refresh_at <= nowMs` and no unexpired lease, soonest
   * first, read through the `next_refresh_at` index so the cost follows the due rows, not the table.
   * Due rows of connections that are no longer active (revoked, attention_required …) get their
   * `next_refresh_at` cleared on the way (at most `limit` per call), so they are not scanned again.
   */
  listDueRefreshes(nowMs: number, limit: number): Promise<ConnectionRecord[]>;
  /**
   * `listDueRefreshes` and a `claimRefreshLease` of each in one statement: takes the refresh lease
   * for `owner` until `nowMs + leaseMs` on up to `limit` due connections (active, due, lease free or
   * expired; soonest first) and returns them, each with whether its lease was taken over from an
   * interrupted provider call. Concurrent callers (replicas) never claim the same row. Clears the
   * schedule of due inactive rows on the way, as listDueRefreshes does.
   */
  claimDueRefreshes(nowMs: number, limit: number, owner: string, leaseMs: number): Promise<DueClaim[]>;
  /** Sets (or, with null, clears) when the scheduler should next look at the connection; NotFoundError when missing. */
  setNextRefresh(connectionId: string, nextRefreshAtMs: number | null): Promise<void>;
  /**
   * Up to `limit` pending connections (of any tenant) not updated since before `updatedBeforeMs`,
   * oldest first: consents nobody finished. Read through `connections_status_updated_idx`.
   */
  listStalePending(updatedBeforeMs: number, limit: number): Promise<ConnectionRecord[]>;
}
