/**
 * Refresh leases and the refresh schedule in PostgreSQL: the `lease_owner`, `lease_expires_at` and
 * `next_refresh_at` columns of `connections`. Every claim is one `UPDATE … WHERE … RETURNING`: under
 * READ COMMITTED a concurrent claimer of the same row waits for the first, then re-checks the WHERE
 * against the committed row and finds the lease taken. It decides nothing about refreshing.
 */

import { and, asc, eq, inArray, isNull, lt, lte, ne, or, sql } from "drizzle-orm";
import { AWAITING_CONSENT_STATUS, USABLE_STATUS } from "../../domain/connection-status.ts";
import { NotFoundError } from "../../domain/errors.ts";
import { LEASE_STATE, toConnection, toLeaseClaim } from "../rows/row-mappers.ts";
import type { RefreshLeaseStore } from "../store.ts";
import { runQuery } from "./run-query.ts";
import { connections } from "./schema.ts";
import type { PostgresStoreContext } from "./store-context.ts";

/** Creates the refresh-lease methods of the PostgreSQL store. */
export function createPostgresRefreshLeaseStore({ db }: PostgresStoreContext): RefreshLeaseStore {
  return {
    claimRefreshLease: (connectionId, owner, leaseMs, nowMs) =>
      runQuery(async () => {
        const [claimed] = await db
          .update(connections)
          .set({ leaseOwner: owner, leaseExpiresAt: nowMs + leaseMs, leaseState: nextLeaseState(owner) })
          .where(
            and(
              eq(connections.id, connectionId),
              or(
                isNull(connections.leaseOwner),
                isNull(connections.leaseExpiresAt),
                lte(connections.leaseExpiresAt, nowMs),
                eq(connections.leaseOwner, owner),
              ),
            ),
          )
          .returning({ credentialVersion: connections.credentialVersion, leaseState: connections.leaseState });
        if (claimed) return toLeaseClaim(claimed);
        const [exists] = await db.select({ id: connections.id }).from(connections).where(eq(connections.id, connectionId));
        if (!exists) throw new NotFoundError("connection", connectionId);
        return null;
      }),

    renewRefreshLease: (connectionId, owner, leaseMs, nowMs, options = {}) =>
      runQuery(async () => {
        const until = nowMs + leaseMs;
        const calling = options.isCalling === true ? { leaseState: LEASE_STATE.calling, nextRefreshAt: until } : {};
        const rows = await db
          .update(connections)
          .set({ leaseExpiresAt: until, ...calling })
          .where(and(eq(connections.id, connectionId), eq(connections.leaseOwner, owner)))
          .returning({ id: connections.id });
        return rows.length > 0;
      }),

    releaseRefreshLease: (connectionId, owner) =>
      runQuery(async () => {
        await db
          .update(connections)
          .set({ leaseOwner: null, leaseExpiresAt: null, leaseState: null })
          .where(and(eq(connections.id, connectionId), eq(connections.leaseOwner, owner)));
      }),

    listDueRefreshes: (nowMs, limit) =>
      runQuery(async () => {
        const inactive = db
          .select({ id: connections.id })
          .from(connections)
          .where(and(lte(connections.nextRefreshAt, nowMs), ne(connections.status, USABLE_STATUS)))
          .orderBy(asc(connections.nextRefreshAt))
          .limit(limit);
        await db.update(connections).set({ nextRefreshAt: null }).where(inArray(connections.id, inactive));
        const rows = await dueRefreshesQuery({ db }, nowMs, limit);
        return rows.map(toConnection);
      }),

    claimDueRefreshes: (nowMs, limit, owner, leaseMs) =>
      runQuery(async () => {
        const inactive = db
          .select({ id: connections.id })
          .from(connections)
          .where(and(lte(connections.nextRefreshAt, nowMs), ne(connections.status, USABLE_STATUS)))
          .orderBy(asc(connections.nextRefreshAt))
          .limit(limit);
        await db.update(connections).set({ nextRefreshAt: null }).where(inArray(connections.id, inactive));
        // SKIP LOCKED: a replica claiming at the same moment takes other rows instead of waiting;
        // the outer lease check is re-evaluated on the row as committed, so no row is claimed twice.
        const due = db
          .select({ id: connections.id })
          .from(connections)
          .where(and(lte(connections.nextRefreshAt, nowMs), eq(connections.status, USABLE_STATUS), leaseIsFree(nowMs)))
          .orderBy(asc(connections.nextRefreshAt))
          .limit(limit)
          .for("update", { skipLocked: true });
        const rows = await db
          .update(connections)
          .set({ leaseOwner: owner, leaseExpiresAt: nowMs + leaseMs, leaseState: nextLeaseState(owner) })
          .where(and(inArray(connections.id, due), leaseIsFree(nowMs)))
          .returning();
        return rows
          .sort((a, b) => (a.nextRefreshAt ?? 0) - (b.nextRefreshAt ?? 0))
          .map((row) => ({ connection: toConnection(row), wasInterrupted: row.leaseState === LEASE_STATE.interrupted }));
      }),

    setNextRefresh: (connectionId, nextRefreshAtMs) =>
      runQuery(async () => {
        const [row] = await db
          .update(connections)
          .set({ nextRefreshAt: nextRefreshAtMs })
          .where(eq(connections.id, connectionId))
          .returning({ id: connections.id });
        if (!row) throw new NotFoundError("connection", connectionId);
      }),

    listStalePending: (updatedBeforeMs, limit) =>
      runQuery(async () => {
        const rows = await db
          .select()
          .from(connections)
          .where(and(eq(connections.status, AWAITING_CONSENT_STATUS), lt(connections.updatedAt, updatedBeforeMs)))
          .orderBy(asc(connections.updatedAt))
          .limit(limit);
        return rows.map(toConnection);
      }),
  };
}

/**
 * lease_state after `owner` claims: the holder keeps its own mark; a lease taken over from another
 * owner that was calling (or had itself taken over an interrupted call) becomes "interrupted";
 * a free lease has none. SET expressions read the row as it was before the update.
 */
function nextLeaseState(owner: string) {
  return sql`CASE WHEN ${connections.leaseOwner} = ${owner} THEN ${connections.leaseState} WHEN ${connections.leaseOwner} IS NOT NULL AND ${connections.leaseState} IS NOT NULL THEN ${LEASE_STATE.interrupted} ELSE NULL END`;
}

/** A lease nobody holds, or one that ran out. */
function leaseIsFree(nowMs: number) {
  return or(isNull(connections.leaseOwner), isNull(connections.leaseExpiresAt), lte(connections.leaseExpiresAt, nowMs));
}

/**
 * The due-refresh SELECT, exported so a test can check its query plan walks
 * `connections_next_refresh_idx` in `next_refresh_at` order.
 */
export function dueRefreshesQuery({ db }: Pick<PostgresStoreContext, "db">, nowMs: number, limit: number) {
  return db
    .select()
    .from(connections)
    .where(
      and(
        lte(connections.nextRefreshAt, nowMs),
        eq(connections.status, USABLE_STATUS),
        or(isNull(connections.leaseExpiresAt), lte(connections.leaseExpiresAt, nowMs)),
      ),
    )
    .orderBy(asc(connections.nextRefreshAt))
    .limit(limit);
}
