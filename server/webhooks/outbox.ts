/**
 * What webhook delivery reads from the connection event log (the outbox written in the same
 * transaction as each connection change), and the JSON body each event becomes. The body follows
 * the Standard Webhooks payload shape: `type`, `timestamp` (when the change happened) and `data`.
 * It never carries a secret: `connection` is the log's non-secret snapshot.
 */
import type { JsonObject } from "../store/store.ts";

/** One event of a tenant's log, as delivery needs it. */
export interface OutboxEvent {
  /** Position in the log; increases with every event. */
  seq: number;
  /** Stable id ("evt_…"), sent as webhook-id on every attempt. */
  eventId: string;
  /** e.g. "connection.active". */
  type: string;
  /** When the change happened, epoch ms. */
  occurredAtMs: number;
  tenantId: string;
  connectionId: string;
  /** Non-secret snapshot of the connection after the change. */
  connection: JsonObject;
}

/** Reads a tenant's events after a sequence number, ascending. */
export interface Outbox {
  listEvents(tenantId: string, afterSeq: number, limit: number): Promise<OutboxEvent[]>;
  /**
   * The highest seq of the whole log (every tenant). Events become visible in seq order, so a
   * tenant with no event after its cursor read after this has none up to it either.
   */
  latestSeq(): Promise<number>;
}

/** The JSON body POSTed for `event`. */
export function webhookPayload(event: OutboxEvent): JsonObject {
  return {
    type: event.type,
    timestamp: new Date(event.occurredAtMs).toISOString(),
    data: {
      event_id: event.eventId,
      seq: event.seq,
      tenant_id: event.tenantId,
      connection_id: event.connectionId,
      connection: event.connection,
    },
  };
}
