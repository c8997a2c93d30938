/**
 * Connection change events: the closed set of event types the store records (one per committed
 * change of a connection) and which type a status move produces. WatchConnections and webhooks
 * deliver them; `server/proto-mapping/` converts them to the proto enum.
 */
import type { ConnectionStatus } from "./connection-status.ts";

/**
 * The event types:
 * - created: a connection was created (its snapshot carries the status it was created with);
 * - pending: an existing connection went back to pending for re-consent (same connection_id);
 * - active, attention_required, failed, revoked, expired: the connection moved to that status;
 * - updated: the connection's account or metadata changed without a status move (no write does
 *   that yet; what changes together with a status is carried by that move's event).
 */
export const CONNECTION_EVENT_TYPES = [
  "created",
  "pending",
  "active",
  "attention_required",
  "failed",
  "revoked",
  "expired",
  "updated",
] as const;

/** One connection event type. */
export type ConnectionEventType = (typeof CONNECTION_EVENT_TYPES)[number];

/** Whether `value` names a connection event type. */
export function isConnectionEventType(value: string): value is ConnectionEventType {
  return (CONNECTION_EVENT_TYPES as readonly string[]).includes(value);
}

/** The event type of a move to `status` (every status is also an event type of the same name). */
export function eventTypeOfStatus(status: ConnectionStatus): ConnectionEventType {
  return status;
}
