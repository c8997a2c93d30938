/**
 * The outbox as the store keeps it: the `connection_events` log, written in the same transaction
 * as each connection change. Event types are delivered as `connection.<type>` (connection.created,
 * connection.active …), and the connection snapshot with snake_case field names like the rest of
 * the REST/JSON surface (`user_id`, `provider_name`, `created_at_ms`, `account.display_name`);
 * map-valued fields (params, labels, metadata) keep their own keys.
 */
import type { ConnectionEventRecord, JsonObject, JsonValue, Store } from "../store/store.ts";
import type { Outbox, OutboxEvent } from "./outbox.ts";

/** Prefix of every webhook event type. */
export const WEBHOOK_EVENT_PREFIX = "connection.";

/** The outbox over the store's event log. */
export function createStoreOutbox(store: Pick<Store, "listConnectionEvents" | "latestConnectionEventSeq">): Outbox {
  return {
    latestSeq: () => store.latestConnectionEventSeq(null),
    async listEvents(tenantId, afterSeq, limit) {
      const records = await store.listConnectionEvents({ tenantId, afterSeq, limit });
      return records.map(toOutboxEvent);
    },
  };
}

/** One log record as a deliverable event. */
export function toOutboxEvent(record: ConnectionEventRecord): OutboxEvent {
  return {
    seq: record.seq,
    eventId: record.eventId,
    type: `${WEBHOOK_EVENT_PREFIX}${record.type}`,
    occurredAtMs: record.occurredAtMs,
    tenantId: record.tenantId,
    connectionId: record.connectionId,
    connection: snakeCaseKeys(record.connection as unknown as Record<string, JsonValue | undefined>),
  };
}

function snakeCaseKeys(value: Record<string, JsonValue | undefined>): JsonObject {
  const out: JsonObject = {};
  for (const [key, field] of Object.entries(value)) {
    if (field === undefined) continue;
    // The account is a fixed structure ({id, email, displayName}); params, labels and metadata are
    // the caller's own maps and keep their keys.
    const isStructure = key === "account" && typeof field === "object" && field !== null && !Array.isArray(field);
    out[key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = isStructure ? snakeCaseKeys(field) : field;
  }
  return out;
}
