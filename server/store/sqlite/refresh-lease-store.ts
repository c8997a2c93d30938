/**
 * Refresh leases and the refresh schedule in SQLite: the `lease_owner`, `lease_expires_at` and
 * `next_refresh_at` columns of `connections`. Every claim is one `UPDATE … WHERE … RETURNING`, so
 * the check and the take are a single atomic step even across processes sharing the file.
 * It decides nothing about refreshing; the refresh engine does.
 */

import { and, asc, eq, inArray, isNull, lt, lte, ne, or, type Placeholder, type SQL, sql } from "drizzle-orm";
import { AWAITING_CONSENT_STATUS, USABLE_STATUS } from "../../domain/connection-status.ts";
import { NotFoundError } from "../../domain/errors.ts";
import { LEASE_STATE, toConnection, toLeaseClaim } from "../rows/row-mappers.ts";
import type { RefreshLeaseStore } from "../store.ts";
import { runQuery } from "./run-query.ts";
import { connections } from "./schema.ts";
import type { SqliteStoreContext } from "./store-context.ts";

/** Creates the refresh-lease methods of the SQLite store. */
export function createSqliteRefreshLeaseStore({ db, writes }: SqliteStoreContext): RefreshLeaseStore {
  // The scheduler's and the flights' statements, prepared once: building them with drizzle and
  // preparing them in SQLite on every call cost more than running them (bench/README.md).
  const nowMs = sql.placeholder("nowMs");
  const owner = sql.placeholder("owner");
  const connectionId = sql.placeholder("connectionId");
  const until = param("until");
  const claimOne = db
    .update(connections)
    .set({ leaseOwner: param("owner"), leaseExpiresAt: until, leaseState: nextLeaseState(owner) })
    .where(and(eq(connections.id, connectionId), or(leaseIsFree(nowMs), eq(connections.leaseOwner, owner))))
    .returning({ credentialVersion: connections.credentialVersion, leaseState: connections.leaseState })
    .prepare();
  const exists = db.select({ id: connections.id }).from(connections).where(eq(connections.id, connectionId)).prepare();
  const heldBy = and(eq(connections.id, connectionId), eq(connections.leaseOwner, owner));
  const renew = db.update(connections).set({ leaseExpiresAt: until }).where(heldBy).returning({ id: connections.id }).prepare();
  const renewCalling = db
    .update(connections)
    .set({ leaseExpiresAt: until, leaseState: LEASE_STATE.calling, nextRefreshAt: until })
    .where(heldBy)
    .returning({ id: connections.id })
    .prepare();
  const release = db.update(connections).set({ leaseOwner: null, leaseExpiresAt: null, leaseState: null }).where(heldBy).prepare();
  // Due rows of connections no longer active lose their schedule, so they are not scanned again.
  const clearInactive = db
    .update(connections)
    .set({ nextRefreshAt: null })
    .where(
      inArray(
        connections.id,
        db
          .select({ id: connections.id })
          .from(connections)
          .where(and(lte(connections.nextRefreshAt, nowMs), ne(connections.status, USABLE_STATUS)))
          .orderBy(asc(connections.nextRefreshAt))
          .limit(sql.placeholder("limit")),
      ),
    )
    .prepare();
  const listDue = dueRefreshesQuery({ db }, nowMs, sql.placeholder("limit")).prepare();
  const dueIds = dueIdsQuery({ db }, nowMs, sql.placeholder("limit"));
  const claimDue = db
    .update(connections)
    .set({ leaseOwner: param("owner"), leaseExpiresAt: until, leaseState: nextLeaseState(owner) })
    .where(and(inArray(connections.id, dueIds), leaseIsFree(nowMs)))
    .returning()
    .prepare();
  const setNext = db
    .update(connections)
    .set({ nextRefreshAt: param("at") })
    .where(eq(connections.id, connectionId))
    .returning({ id: connections.id })
    .prepare();

  return {
    claimRefreshLease: (connectionId, owner, leaseMs, nowMs) =>
      runQuery(() => {
        const claimed = claimOne.get({ connectionId, owner, nowMs, until: nowMs + leaseMs });
        if (claimed) return toLeaseClaim(claimed);
        if (!exists.get({ connectionId })) throw new NotFoundError("connection", connectionId);
        return null;
      }),

    // Renewals (the calling mark before each provider call among them) and releases of the flights
    // of one moment share a commit (group-commit.ts); each is durable before its promise resolves.
    renewRefreshLease: (connectionId, owner, leaseMs, nowMs, options = {}) =>
      writes.run(() => {
        const statement = options.isCalling === true ? renewCalling : renew;
        return statement.get({ connectionId, owner, until: nowMs + leaseMs }) !== undefined;
      }),

    releaseRefreshLease: (connectionId, owner) =>
      writes.run(() => {
        release.run({ connectionId, owner });
      }),

    listDueRefreshes: (nowMs, limit) =>
      runQuery(() => {
        clearInactive.run({ nowMs, limit });
        return listDue.all({ nowMs, limit }).map(toConnection);
      }),

    claimDueRefreshes: (nowMs, limit, owner, leaseMs) =>
      runQuery(() => {
        clearInactive.run({ nowMs, limit });
        const rows = claimDue.all({ nowMs, limit, owner, until: nowMs + leaseMs });
        return rows
          .sort((a, b) => (a.nextRefreshAt ?? 0) - (b.nextRefreshAt ?? 0))
          .map((row) => ({ connection: toConnection(row), wasInterrupted: row.leaseState === LEASE_STATE.interrupted }));
      }),

    setNextRefresh: (connectionId, nextRefreshAtMs) =>
      runQuery(() => {
        if (!setNext.get({ connectionId, at: nextRefreshAtMs })) throw new NotFoundError("connection", connectionId);
      }),

    listStalePending: (updatedBeforeMs, limit) =>
      runQuery(() =>
        db
          .select()
          .from(connections)
          .where(and(eq(connections.status, AWAITING_CONSENT_STATUS), lt(connections.updatedAt, updatedBeforeMs)))
          .orderBy(asc(connections.updatedAt))
          .limit(limit)
          .all()
          .map(toConnection),
      ),
  };
}

/** A named placeholder usable as a SET value (drizzle's SET takes SQL, not a bare placeholder). */
function param(name: string): SQL {
  return sql`${sql.placeholder(name)}`;
}

/**
 * lease_state after `owner` claims: the holder keeps its own mark; a lease taken over from another
 * owner that was calling (or had itself taken over an interrupted call) becomes "interrupted";
 * a free lease has none. SET expressions read the row as it was before the update.
 */
function nextLeaseState(owner: string | Placeholder) {
  return sql`CASE WHEN ${connections.leaseOwner} = ${owner} THEN ${connections.leaseState} WHEN ${connections.leaseOwner} IS NOT NULL AND ${connections.leaseState} IS NOT NULL THEN ${LEASE_STATE.interrupted} ELSE NULL END`;
}

/** A lease nobody holds, or one that ran out. */
function leaseIsFree(nowMs: number | Placeholder) {
  return or(isNull(connections.leaseOwner), isNull(connections.leaseExpiresAt), lte(connections.leaseExpiresAt, nowMs));
}

/**
 * `status = 'active'` written so that SQLite cannot answer it from `connections_status_updated_idx`
 * (a unary `+` takes a column out of index use): without statistics (no ANALYZE is run) the planner
 * preferred that equality and walked every active row, then sorted them, so the due list cost grew
 * with the table (2 ms at 10,000 connections, 14 ms at 100,000). The due queries must walk
 * `connections_next_refresh_idx`: a range search in `next_refresh_at` order that stops at `limit`.
 */
function isActive() {
  return sql`+${connections.status} = ${USABLE_STATUS}`;
}

/**
 * The due-refresh SELECT, exported so a test can check its query plan walks
 * `connections_next_refresh_idx` (a range scan in `next_refresh_at` order, no sort).
 */
export function dueRefreshesQuery({ db }: Pick<SqliteStoreContext, "db">, nowMs: number | Placeholder, limit: number | Placeholder) {
  return db
    .select()
    .from(connections)
    .where(
      and(
        lte(connections.nextRefreshAt, nowMs),
        isActive(),
        or(isNull(connections.leaseExpiresAt), lte(connections.leaseExpiresAt, nowMs)),
      ),
    )
    .orderBy(asc(connections.nextRefreshAt))
    .limit(limit);
}

/** The ids `claimDueRefreshes` claims (due, active, lease free), exported for the same query-plan test. */
export function dueIdsQuery({ db }: Pick<SqliteStoreContext, "db">, nowMs: number | Placeholder, limit: number | Placeholder) {
  return db
    .select({ id: connections.id })
    .from(connections)
    .where(and(lte(connections.nextRefreshAt, nowMs), isActive(), leaseIsFree(nowMs)))
    .orderBy(asc(connections.nextRefreshAt))
    .limit(limit);
}
