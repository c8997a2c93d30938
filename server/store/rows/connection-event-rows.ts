/**
 * The connection event log's rows, shared by `sqlite/` and `postgres/`: the non-secret snapshot an
 * event carries, the new row of an event, the row → record mapping, and the cursor limit. Which
 * event a write produces is decided by the write methods (created, a status move, updated); this
 * module only shapes the row.
 */
import type { ConnectionEventType } from "../../domain/connection-events.ts";
import type { ConnectionEventRecord, ConnectionRecord, ConnectionSnapshot } from "../store.ts";

/** Most events one `listConnectionEvents` call returns; a larger limit is lowered to it. */
export const MAX_CONNECTION_EVENTS_PER_READ = 1000;

/** The id prefix of events: `evt_…`. */
export const CONNECTION_EVENT_ID_PREFIX = "evt";

/**
 * The snapshot of `connection` an event carries: copied field by field (an allow-list), so nothing
 * reaches watchers or webhooks by accident; the ConnectionSnapshot type makes a new field of
 * ConnectionRecord a compile error here until it is copied or omitted there.
 */
export function connectionSnapshot(connection: ConnectionRecord): ConnectionSnapshot {
  return {
    id: connection.id,
    tenantId: connection.tenantId,
    userId: connection.userId,
    providerName: connection.providerName,
    status: connection.status,
    statusReason: connection.statusReason,
    scopes: [...connection.scopes],
    params: { ...connection.params },
    createdAtMs: connection.createdAtMs,
    updatedAtMs: connection.updatedAtMs,
    credentialVersion: connection.credentialVersion,
    credentialExpiresAtSeconds: connection.credentialExpiresAtSeconds,
    account: connection.account === null ? null : { ...connection.account },
    labels: { ...connection.labels },
    metadata: { ...connection.metadata },
    reusedConnectionId: connection.reusedConnectionId,
  };
}

/** A new `connection_events` row (seq is the database's). */
export function newConnectionEventRow(eventId: string, type: ConnectionEventType, connection: ConnectionRecord, occurredAtMs: number) {
  return {
    eventId,
    tenantId: connection.tenantId,
    connectionId: connection.id,
    type,
    occurredAt: occurredAtMs,
    connection: connectionSnapshot(connection),
  };
}

/** The columns of a `connection_events` row that `toConnectionEvent` reads. */
export interface ConnectionEventRow {
  seq: number;
  eventId: string;
  tenantId: string;
  connectionId: string;
  type: ConnectionEventType;
  occurredAt: number;
  connection: ConnectionSnapshot;
}

/** Maps a `connection_events` row to its record. */
export function toConnectionEvent(row: ConnectionEventRow): ConnectionEventRecord {
  return {
    seq: row.seq,
    eventId: row.eventId,
    tenantId: row.tenantId,
    connectionId: row.connectionId,
    type: row.type,
    occurredAtMs: row.occurredAt,
    // Fields added after an event was written are absent from its stored snapshot: read as empty.
    connection: {
      ...row.connection,
      account: row.connection.account ?? null,
      labels: row.connection.labels ?? {},
      metadata: row.connection.metadata ?? {},
      reusedConnectionId: row.connection.reusedConnectionId ?? null,
    },
  };
}

/** The effective limit of a read: 1 … MAX_CONNECTION_EVENTS_PER_READ (non-integers are truncated). */
export function eventReadLimit(limit: number): number {
  if (!Number.isFinite(limit)) return MAX_CONNECTION_EVENTS_PER_READ;
  return Math.min(MAX_CONNECTION_EVENTS_PER_READ, Math.max(1, Math.trunc(limit)));
}
