/**
 * The connection event log part of the storage contract: events, their snapshot and filter, and `ConnectionEventStore`.
 */
import type { ConnectionEventType } from "../domain/connection-events.ts";
import type { ConnectionRecord } from "./connection-store.ts";

/**
 * The non-secret picture of a connection that an event carries: what a watcher or webhook receiver
 * may see, i.e. the connection's metadata without the return URL and the refresh schedule. It never
 * holds a secret because ConnectionRecord never does. A field added to ConnectionRecord is part of
 * it (and must be copied by rows/connection-event-rows.ts `connectionSnapshot`) unless omitted here;
 * events stored before the field existed lack it, so readers must treat it as optional.
 */
export type ConnectionSnapshot = Omit<ConnectionRecord, "returnUrl" | "nextRefreshAtMs">;

/**
 * One committed change of a connection, from the `connection_events` log. Written by the store in
 * the same transaction as the change, so every committed change has exactly one event and no
 * rolled-back change has any.
 */
export interface ConnectionEventRecord {
  /**
   * Position in the log: increases with commit order (a reader that has seen `seq` never later
   * finds a smaller one appear). Gaps are possible; the cursor of WatchConnections.
   */
  seq: number;
  /** Stable unique id, `evt_…` (the webhook-id of its deliveries). */
  eventId: string;
  tenantId: string;
  connectionId: string;
  type: ConnectionEventType;
  occurredAtMs: number;
  /** The connection as the change left it. */
  connection: ConnectionSnapshot;
}

/** Filter of `listConnectionEvents`. */
export interface ConnectionEventFilter {
  /** Only this tenant's events; null for every tenant (server-internal readers such as webhooks). */
  tenantId: string | null;
  /** Only events with `seq > afterSeq` (0 for the start of the log). */
  afterSeq: number;
  /** At most this many events (1 … 1000; larger is lowered to 1000). */
  limit: number;
  /** Only this connection's events. */
  connectionId?: string;
}

/**
 * The connection event log. Events are appended by the connection write methods themselves (in
 * their transaction), never by callers; this interface only reads and prunes.
 */
export interface ConnectionEventStore {
  /** Events after `filter.afterSeq`, ascending by seq, at most `filter.limit`. */
  listConnectionEvents(filter: ConnectionEventFilter): Promise<ConnectionEventRecord[]>;
  /**
   * The highest seq the tenant's events (every tenant's with null) ever reached, pruned ones
   * included; 0 when there was none. A cursor here means "from now on".
   */
  latestConnectionEventSeq(tenantId: string | null): Promise<number>;
  /**
   * Retention: deletes the oldest events, a prefix of the log, up to the newest event that
   * occurred before `cutoff` and whose seq is at most `keepAfterSeq` (when given; e.g. the oldest
   * event a webhook still has to deliver, minus one). Records the highest seq deleted (see
   * `connectionEventsPrunedThrough`). Returns how many were deleted.
   */
  deleteConnectionEventsBefore(cutoff: Date, keepAfterSeq?: number): Promise<number>;
  /**
   * The highest seq of the tenant's events (every tenant's with null) that retention deleted; 0
   * when none. A cursor below it may have missed events that are gone: it is expired.
   */
  connectionEventsPrunedThrough(tenantId: string | null): Promise<number>;
}
