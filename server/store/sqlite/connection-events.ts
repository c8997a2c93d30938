/**
 * The connection event log in SQLite: the `connection_events` table and its retention row per
 * tenant. `appendSqliteConnectionEvent` is called by the connection write methods inside their
 * transaction; the reads and retention are the ConnectionEventStore methods. SQLite has one writer
 * at a time, so AUTOINCREMENT's seq order is commit order.
 */
import { and, asc, eq, gt, lt, lte, max, sql } from "drizzle-orm";
import type { BetterSQLite3Database } from "drizzle-orm/better-sqlite3";
import type { ConnectionEventType } from "../../domain/connection-events.ts";
import type { IdGenerator } from "../id-generator.ts";
import { CONNECTION_EVENT_ID_PREFIX, eventReadLimit, newConnectionEventRow, toConnectionEvent } from "../rows/connection-event-rows.ts";
import type { ConnectionEventStore, ConnectionRecord } from "../store.ts";
import { runQuery } from "./run-query.ts";
import { connectionEventRetention, connectionEvents } from "./schema.ts";
import type { SqliteStoreContext } from "./store-context.ts";

/** What an event append needs of a transaction (or the database). */
type Inserter = Pick<BetterSQLite3Database, "insert">;

/** Appends one event about `connection` (as the change left it); call inside the change's transaction. */
export function appendSqliteConnectionEvent(
  tx: Inserter,
  ids: IdGenerator,
  type: ConnectionEventType,
  connection: ConnectionRecord,
  occurredAtMs: number,
): void {
  tx.insert(connectionEvents)
    .values(newConnectionEventRow(ids.newId(CONNECTION_EVENT_ID_PREFIX), type, connection, occurredAtMs))
    .run();
}

/** Creates the event-log methods of the SQLite store. */
export function createSqliteConnectionEventStore({ db }: SqliteStoreContext): ConnectionEventStore {
  const prunedThrough = (tenantId: string | null): number => {
    const row = db
      .select({ seq: max(connectionEventRetention.prunedThroughSeq) })
      .from(connectionEventRetention)
      .where(tenantId === null ? undefined : eq(connectionEventRetention.tenantId, tenantId))
      .get();
    return row?.seq ?? 0;
  };
  return {
    listConnectionEvents: (filter) =>
      runQuery(() => {
        const rows = db
          .select()
          .from(connectionEvents)
          .where(
            and(
              gt(connectionEvents.seq, filter.afterSeq),
              filter.tenantId === null ? undefined : eq(connectionEvents.tenantId, filter.tenantId),
              filter.connectionId === undefined ? undefined : eq(connectionEvents.connectionId, filter.connectionId),
            ),
          )
          .orderBy(asc(connectionEvents.seq))
          .limit(eventReadLimit(filter.limit))
          .all();
        return rows.map(toConnectionEvent);
      }),

    latestConnectionEventSeq: (tenantId) =>
      runQuery(() => {
        const row = db
          .select({ seq: max(connectionEvents.seq) })
          .from(connectionEvents)
          .where(tenantId === null ? undefined : eq(connectionEvents.tenantId, tenantId))
          .get();
        return Math.max(row?.seq ?? 0, prunedThrough(tenantId));
      }),

    connectionEventsPrunedThrough: (tenantId) => runQuery(() => prunedThrough(tenantId)),

    deleteConnectionEventsBefore: (cutoff, keepAfterSeq) =>
      runQuery(() =>
        db.transaction(
          (tx) => {
            const limit = tx
              .select({ seq: max(connectionEvents.seq) })
              .from(connectionEvents)
              .where(
                and(
                  lt(connectionEvents.occurredAt, cutoff.getTime()),
                  keepAfterSeq === undefined ? undefined : lte(connectionEvents.seq, keepAfterSeq),
                ),
              )
              .get();
            const through = limit?.seq ?? null;
            if (through === null) return 0;
            // Per tenant, the highest seq about to go: a cursor of that tenant below it is expired.
            const perTenant = tx
              .select({ tenantId: connectionEvents.tenantId, seq: max(connectionEvents.seq) })
              .from(connectionEvents)
              .where(lte(connectionEvents.seq, through))
              .groupBy(connectionEvents.tenantId)
              .all();
            for (const { tenantId, seq } of perTenant) {
              if (seq === null) continue;
              tx.insert(connectionEventRetention)
                .values({ tenantId, prunedThroughSeq: seq })
                .onConflictDoUpdate({
                  target: connectionEventRetention.tenantId,
                  set: { prunedThroughSeq: sql`max(${connectionEventRetention.prunedThroughSeq}, excluded.pruned_through_seq)` },
                })
                .run();
            }
            return tx.delete(connectionEvents).where(lte(connectionEvents.seq, through)).run().changes;
          },
          { behavior: "immediate" },
        ),
      ),
  };
}
