/**
 * The connection event log in PostgreSQL: the `connection_events` table and its retention row per
 * tenant. `appendPostgresConnectionEvent` is called by the connection write methods inside their
 * transaction; the reads and retention are the ConnectionEventStore methods.
 *
 * Cursor correctness (the outbox problem): an identity hands out values at insert time, not at
 * commit, so without care a reader could see seq 8 committed while seq 7's transaction is still
 * open, move its cursor past 7 and never see it. So the event insert first takes
 * `pg_advisory_xact_lock(EVENT_LOCK_KEY)` — in the same statement, before the identity hands out
 * the seq — and holds it to commit or rollback: transactions that write events commit one at a
 * time in seq order, and when a reader sees seq n, every smaller seq has committed or rolled back.
 * The lock is taken as late as possible (the event insert is the transaction's last statement), so
 * only the insert and the commit are serialised; connection changes are rare and short. Deadlock
 * freedom rests on one rule: after the lock, a transaction does nothing but insert events and
 * commit (so it never waits for a row lock while holding it).
 */
import { and, asc, eq, gt, lt, lte, max, type SQL, sql } from "drizzle-orm";
import type { NodePgDatabase } from "drizzle-orm/node-postgres";
import type { ConnectionEventType } from "../../domain/connection-events.ts";
import type { IdGenerator } from "../id-generator.ts";
import { CONNECTION_EVENT_ID_PREFIX, eventReadLimit, newConnectionEventRow, toConnectionEvent } from "../rows/connection-event-rows.ts";
import type { ConnectionEventStore, ConnectionRecord } from "../store.ts";
import { runQuery } from "./run-query.ts";
import { connectionEventRetention, connectionEvents } from "./schema.ts";
import type { PostgresStoreContext } from "./store-context.ts";

/**
 * The advisory lock key of event writers: the ASCII bytes of "nexusevt" read as a signed 64-bit
 * integer (cf. the migration lock "nexusmig"). Passed as text; PostgreSQL casts it.
 */
export const EVENT_LOCK_KEY = "7954896762662385268";

/** What the event helpers need of a transaction. */
type Executor = Pick<NodePgDatabase, "execute">;

/**
 * Takes the event-writer lock for the rest of the transaction. Not needed before
 * `appendPostgresConnectionEvent` (which takes it itself); kept for callers that must hold it
 * longer. The rule stays: after it, only event inserts and the commit.
 */
export async function lockConnectionEventLog(tx: Executor): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${EVENT_LOCK_KEY}::bigint)`);
}

/**
 * Appends one event about `connection` (as the change left it), taking the event-writer lock in
 * the same statement before the seq is drawn. Call it inside the change's transaction, after every
 * other write of that transaction (see the module comment).
 */
export async function appendPostgresConnectionEvent(
  tx: Executor,
  ids: IdGenerator,
  type: ConnectionEventType,
  connection: ConnectionRecord,
  occurredAtMs: number,
): Promise<void> {
  const row = newConnectionEventRow(ids.newId(CONNECTION_EVENT_ID_PREFIX), type, connection, occurredAtMs);
  // The subquery's row (the lock) is produced before the insert's defaults (the seq) are computed.
  await tx.execute(sql`
    insert into ${connectionEvents} (event_id, tenant_id, connection_id, type, occurred_at, connection)
    select ${row.eventId}, ${row.tenantId}, ${row.connectionId}, ${row.type}, ${row.occurredAt}, ${JSON.stringify(row.connection)}::jsonb
    from (select pg_advisory_xact_lock(${EVENT_LOCK_KEY}::bigint)) as event_writer_lock`);
}

/** Creates the event-log methods of the PostgreSQL store. */
export function createPostgresConnectionEventStore({ db }: PostgresStoreContext): ConnectionEventStore {
  const prunedThrough = async (tenantId: string | null): Promise<number> => {
    const [row] = await db
      .select({ seq: max(connectionEventRetention.prunedThroughSeq) })
      .from(connectionEventRetention)
      .where(tenantId === null ? undefined : eq(connectionEventRetention.tenantId, tenantId));
    return toNumber(row?.seq);
  };
  return {
    listConnectionEvents: (filter) =>
      runQuery(async () => {
        const conditions: (SQL | undefined)[] = [gt(connectionEvents.seq, filter.afterSeq)];
        if (filter.tenantId !== null) conditions.push(eq(connectionEvents.tenantId, filter.tenantId));
        if (filter.connectionId !== undefined) conditions.push(eq(connectionEvents.connectionId, filter.connectionId));
        const rows = await db
          .select()
          .from(connectionEvents)
          .where(and(...conditions))
          .orderBy(asc(connectionEvents.seq))
          .limit(eventReadLimit(filter.limit));
        return rows.map(toConnectionEvent);
      }),

    latestConnectionEventSeq: (tenantId) =>
      runQuery(async () => {
        const [row] = await db
          .select({ seq: max(connectionEvents.seq) })
          .from(connectionEvents)
          .where(tenantId === null ? undefined : eq(connectionEvents.tenantId, tenantId));
        return Math.max(toNumber(row?.seq), await prunedThrough(tenantId));
      }),

    connectionEventsPrunedThrough: (tenantId) => runQuery(() => prunedThrough(tenantId)),

    deleteConnectionEventsBefore: (cutoff, keepAfterSeq) =>
      runQuery(() =>
        db.transaction(async (tx) => {
          // No event-writer lock needed: writers commit in seq order, so any writer still open
          // gets a seq above every committed one, hence above `through`.
          const [limit] = await tx
            .select({ seq: max(connectionEvents.seq) })
            .from(connectionEvents)
            .where(
              and(
                lt(connectionEvents.occurredAt, cutoff.getTime()),
                keepAfterSeq === undefined ? undefined : lte(connectionEvents.seq, keepAfterSeq),
              ),
            );
          const through = limit?.seq === null || limit?.seq === undefined ? null : toNumber(limit.seq);
          if (through === null) return 0;
          // Per tenant, the highest seq about to go: a cursor of that tenant below it is expired.
          const perTenant = await tx
            .select({ tenantId: connectionEvents.tenantId, seq: max(connectionEvents.seq) })
            .from(connectionEvents)
            .where(lte(connectionEvents.seq, through))
            .groupBy(connectionEvents.tenantId);
          for (const { tenantId, seq } of perTenant) {
            if (seq === null) continue;
            await tx
              .insert(connectionEventRetention)
              .values({ tenantId, prunedThroughSeq: toNumber(seq) })
              .onConflictDoUpdate({
                target: connectionEventRetention.tenantId,
                set: { prunedThroughSeq: sql`greatest(${connectionEventRetention.prunedThroughSeq}, excluded.pruned_through_seq)` },
              });
          }
          const { rowCount } = await tx.delete(connectionEvents).where(lte(connectionEvents.seq, through));
          return rowCount ?? 0;
        }),
      ),
  };
}

/** max() over a bigint column comes back as a string (or null): a JS number (exact below 2^53). */
function toNumber(value: string | number | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return Number(value);
}
