/**
 * Connection life-cycle states, the one table of allowed transitions, the predicates the rest of the
 * server asks instead of comparing status strings, and the closed set of status reasons.
 * Every status write goes through `server/lifecycle/connection-transition.ts`, which asks this
 * table (and the store's compare-and-set checks it again); `server/proto-mapping/` converts to and
 * from the proto enum.
 */

/** The states a connection can be in (protocol.md "Connection states"). */
export const CONNECTION_STATUSES = ["pending", "active", "attention_required", "revoked", "expired", "failed"] as const;

/** One connection state. */
export type ConnectionStatus = (typeof CONNECTION_STATUSES)[number];

/**
 * Allowed transitions, from → to. Re-consent of an attention_required (or expired) connection goes
 * back through pending and keeps the connection_id; revoked is final.
 */
const TRANSITIONS: Readonly<Record<ConnectionStatus, readonly ConnectionStatus[]>> = {
  pending: ["active", "failed", "expired", "revoked"],
  active: ["attention_required", "revoked", "expired", "pending"],
  attention_required: ["pending", "active", "revoked"],
  expired: ["pending", "revoked"],
  failed: ["pending", "revoked"],
  revoked: [],
};

/** Whether a connection may move from `from` to `to`. */
export function canTransition(from: ConnectionStatus, to: ConnectionStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** The states from which `to` may be reached, in table order (e.g. every state but revoked for "revoked"). */
export function allowedFrom(to: ConnectionStatus): readonly ConnectionStatus[] {
  return CONNECTION_STATUSES.filter((from) => canTransition(from, to));
}

/** A status write the table forbids: a programming error, never a race (races are ConflictError). */
export class IllegalTransitionError extends Error {
  override readonly name = "IllegalTransitionError";
  readonly from: ConnectionStatus;
  readonly to: ConnectionStatus;
  constructor(from: ConnectionStatus, to: ConnectionStatus) {
    super(`connection status may not move from ${from} to ${to}`);
    this.from = from;
    this.to = to;
  }
}

/**
 * Checks that every expected `from` may move to `to`; a compare-and-set write names the states it
 * expects, and each must be a legal start for the move.
 * @throws IllegalTransitionError for the first one the table forbids.
 */
export function checkTransition(from: ConnectionStatus | readonly ConnectionStatus[], to: ConnectionStatus): void {
  for (const f of typeof from === "string" ? [from] : from) {
    if (!canTransition(f, to)) throw new IllegalTransitionError(f, to);
  }
}

/** Whether `value` names a connection state. */
export function isConnectionStatus(value: string): value is ConnectionStatus {
  return (CONNECTION_STATUSES as readonly string[]).includes(value);
}

/** The one usable state, for SQL filters that must compare in the database (the lease and due queries). */
export const USABLE_STATUS = "active" satisfies ConnectionStatus;

/** The state of a connection waiting for consent or key capture, for SQL filters (the stale-consent sweep). */
export const AWAITING_CONSENT_STATUS = "pending" satisfies ConnectionStatus;

/** The state every connection is created in: it waits for consent or key capture. */
export const INITIAL_STATUS: ConnectionStatus = AWAITING_CONSENT_STATUS;

/** Whether a connection in `status` holds a credential that may be handed out or refreshed. */
export function isUsable(status: ConnectionStatus): boolean {
  return status === USABLE_STATUS;
}

/** Whether a connection in `status` is waiting for consent or key capture (the only state they finish). */
export function isAwaitingConsent(status: ConnectionStatus): boolean {
  return status === AWAITING_CONSENT_STATUS;
}

/** Whether `status` is final (no transition leaves it). */
export function isFinal(status: ConnectionStatus): boolean {
  return TRANSITIONS[status].length === 0;
}

/**
 * Whether a WatchCredential stream ends on `status`: revoked is final and attention_required needs a
 * person, so a watcher has nothing more to wait for. Expired, failed and pending may come back.
 */
export function endsWatch(status: ConnectionStatus): boolean {
  return isFinal(status) || status === "attention_required";
}

/**
 * Why a connection has its status (the `status_reason` field). A closed set:
 * - OAuth errors the provider returned (RFC 6749 §4.1.2.1, §5.2): access_denied … unsupported_grant_type;
 *   a code outside the RFC is recorded as provider_error.
 * - consent: exchange_failed, token_request_failed, invalid_response, invalid_id_token,
 *   provider_not_found, provider_misconfigured; key capture: too_many_attempts (cancel is access_denied).
 * - refresh: invalid_grant, refresh_lost_in_crash (the grant died with a crashed holder), no_refresh_token.
 * - sweeper: consent_timeout; revoke: revoked_by_api, revoked_by_admin.
 * - reuse_existing: reused_existing (the consent ended on an existing connection of the same account).
 */
export const STATUS_REASONS = [
  "access_denied",
  "invalid_request",
  "unauthorized_client",
  "unsupported_response_type",
  "invalid_scope",
  "server_error",
  "temporarily_unavailable",
  "invalid_client",
  "invalid_grant",
  "unsupported_grant_type",
  "provider_error",
  "exchange_failed",
  "token_request_failed",
  "invalid_response",
  "invalid_id_token",
  "provider_not_found",
  "provider_misconfigured",
  "reused_existing",
  "too_many_attempts",
  "refresh_lost_in_crash",
  "no_refresh_token",
  "consent_timeout",
  "revoked_by_api",
  "revoked_by_admin",
] as const;

/** One status reason. */
export type StatusReason = (typeof STATUS_REASONS)[number];

/** Whether `value` is one of the status reasons. */
export function isStatusReason(value: string): value is StatusReason {
  return (STATUS_REASONS as readonly string[]).includes(value);
}

/** The reason to record for an OAuth error code from a provider: itself when known, else provider_error. */
export function statusReasonOf(code: string): StatusReason {
  return isStatusReason(code) ? code : "provider_error";
}
