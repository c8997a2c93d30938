/**
 * Connection life-cycle states and the one table of allowed transitions.
 * Domain code uses these literal strings; `server/services/` converts to and from the proto enum.
 */

/** The states a connection can be in (protocol.md "Connection states"). */
export const CONNECTION_STATUSES = [
  "pending",
  "active",
  "attention_required",
  "revoked",
  "expired",
  "failed",
] as const;

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

/** Whether `value` names a connection state. */
export function isConnectionStatus(value: string): value is ConnectionStatus {
  return (CONNECTION_STATUSES as readonly string[]).includes(value);
}
