/**
 * Connections in SQLite: the `connections` table (rows mapped in ../rows/row-mappers.ts).
 * Every query but `findConnectionById` filters on tenant_id, so another tenant's row reads as
 * missing. Status changes are compare-and-set and checked against domain/'s transition table first.
 * Every change appends its event (connection-events.ts) in the same transaction.
 */
import { and, desc, eq, inArray, lt, or, type SQL, sql } from "drizzle-orm";
import { eventTypeOfStatus } from "../../domain/connection-events.ts";
import type { ConnectionStatus } from "../../domain/connection-status.ts";
import { AlreadyExistsError, NotFoundError } from "../../domain/errors.ts";
import { PAGE_SPECS, parsePageRequest, toPage } from "../page-request.ts";
import { toConnection } from "../rows/row-mappers.ts";
import { connectionStatusUpdate, newConnectionRow } from "../rows/row-values.ts";
import { checkedStatusMove, connectionStatusConflict } from "../rows/write-conflicts.ts";
import type { ConnectionForToken, ConnectionStore } from "../store.ts";
import { appendSqliteConnectionEvent } from "./connection-events.ts";
import { runQuery } from "./run-query.ts";
import { connections } from "./schema.ts";
import type { SqliteStoreContext } from "./store-context.ts";

/**
 * GetToken's row in `forToken`'s column order: the connection (JSON columns as text), the credential
 * (all null without one), the provider's profile text (null without the provider).
 */
type ForTokenRow = [
  id: string,
  tenantId: string,
  userId: string,
  providerName: string,
  status: ConnectionStatus,
  statusReason: string | null,
  scopes: string,
  params: string,
  returnUrl: string | null,
  createdAt: number,
  updatedAt: number,
  credentialVersion: number,
  credentialExpiresAt: number | null,
  nextRefreshAt: number | null,
  accountId: string | null,
  accountEmail: string | null,
  accountDisplayName: string | null,
  labels: string,
  metadata: string,
  reusedConnectionId: string | null,
  /** NOT NULL in credentials: null here means no credential row. */
  version: number | null,
  ciphertext: Uint8Array | null,
  keyId: string | null,
  expiresAt: number | null,
  credentialUpdatedAt: number | null,
  profile: string | null,
];

/** Maps GetToken's row as `toConnection` and `toCredential` map theirs. */
function forTokenOf(row: ForTokenRow): ConnectionForToken {
  const accountId = row[14];
  const version = row[20];
  return {
    connection: {
      id: row[0],
      tenantId: row[1],
      userId: row[2],
      providerName: row[3],
      status: row[4],
      statusReason: row[5],
      scopes: JSON.parse(row[6]) as string[],
      params: JSON.parse(row[7]) as Record<string, string>,
      returnUrl: row[8],
      createdAtMs: row[9],
      updatedAtMs: row[10],
      credentialVersion: row[11],
      credentialExpiresAtSeconds: row[12],
      nextRefreshAtMs: row[13],
      account: accountId === null ? null : { id: accountId, email: row[15], displayName: row[16] },
      labels: JSON.parse(row[17]) as Record<string, string>,
      metadata: JSON.parse(row[18]) as Record<string, string>,
      reusedConnectionId: row[19],
    },
    credential:
      version === null
        ? null
        : {
            connectionId: row[0],
            secret: { ciphertext: row[21] as Uint8Array, keyId: row[22] as string },
            version,
            expiresAtSeconds: row[23],
            updatedAtMs: row[24] as number,
          },
    providerProfileJson: row[25],
  };
}

/** Creates the connection methods of the SQLite store. */
export function createSqliteConnectionStore({ db, client, now, ids }: SqliteStoreContext): ConnectionStore {
  // Prepared once: every GetToken and watch resync reads a connection, and building the query per
  // call (drizzle SQL generation + a fresh SQLite prepare) cost more than the read (bench/README.md).
  const byTenantAndId = db
    .select()
    .from(connections)
    .where(and(eq(connections.tenantId, sql.placeholder("tenantId")), eq(connections.id, sql.placeholder("id"))))
    .prepare();
  // GetToken's read: the connection, its credential and its provider's profile text in one
  // prepared statement, rows as plain arrays (`raw`), mapped by hand below: drizzle's per-call
  // placeholder filling and row mapping, or three statements, cost more than the reads themselves
  // (bench/README.md). The credential and profile are scalar subqueries on their primary keys:
  // written as LEFT JOINs, the same lookups took about five times as long per execution here
  // (SQLite 3.54 through better-sqlite3: ~27 µs against ~5 µs), the planner's per-run join setup
  // costing more than the reads.
  const forToken = client
    .prepare<[string, string], ForTokenRow>(
      `SELECT c.id, c.tenant_id, c.user_id, c.provider_name, c.status, c.status_reason, c.scopes, c.params,
         c.return_url, c.created_at, c.updated_at, c.credential_version, c.credential_expires_at,
         c.next_refresh_at, c.account_id, c.account_email, c.account_display_name, c.labels, c.metadata,
         c.reused_connection_id,
         (SELECT k.version FROM credentials k WHERE k.connection_id = c.id),
         (SELECT k.ciphertext FROM credentials k WHERE k.connection_id = c.id),
         (SELECT k.key_id FROM credentials k WHERE k.connection_id = c.id),
         (SELECT k.expires_at FROM credentials k WHERE k.connection_id = c.id),
         (SELECT k.updated_at FROM credentials k WHERE k.connection_id = c.id),
         (SELECT p.profile FROM providers p WHERE p.name = c.provider_name)
       FROM connections c
       WHERE c.tenant_id = ? AND c.id = ?`,
    )
    .raw(true);
  // Prepared once: every refresh flight re-reads its connection under the lease.
  const byId = db
    .select()
    .from(connections)
    .where(eq(connections.id, sql.placeholder("id")))
    .prepare();
  return {
    createConnection: (input) => {
      const id = input.id ?? ids.newId("conn");
      return runQuery(
        () =>
          db.transaction(
            (tx) => {
              const createdAt = now();
              const row = tx
                .insert(connections)
                .values(newConnectionRow(id, input, createdAt))
                .returning()
                .get();
              const created = toConnection(row);
              appendSqliteConnectionEvent(tx, ids, "created", created, createdAt);
              return created;
            },
            { behavior: "immediate" },
          ),
        {
          unique: () => new AlreadyExistsError("connection", id),
          foreignKey: () => new NotFoundError("tenant", input.tenantId),
        },
      );
    },

    getConnection: (tenantId, id) =>
      runQuery(() => {
        const row = byTenantAndId.get({ tenantId, id });
        if (!row) throw new NotFoundError("connection", id);
        return toConnection(row);
      }),

    getConnectionForToken: (tenantId, id) =>
      runQuery(() => {
        const row = forToken.get(tenantId, id);
        if (!row) throw new NotFoundError("connection", id);
        return forTokenOf(row);
      }),

    findConnectionById: (id) =>
      runQuery(() => {
        const row = byId.get({ id });
        return row ? toConnection(row) : null;
      }),

    listConnections: (tenantId, filter, page) =>
      runQuery(() => {
        const spec = PAGE_SPECS.connections;
        const { size, after } = parsePageRequest(page, spec);
        const conditions: (SQL | undefined)[] = [eq(connections.tenantId, tenantId)];
        if (filter.userId) conditions.push(eq(connections.userId, filter.userId));
        if (filter.providerName) conditions.push(eq(connections.providerName, filter.providerName));
        if (filter.status) conditions.push(eq(connections.status, filter.status));
        if (filter.accountId) conditions.push(eq(connections.accountId, filter.accountId));
        // Label keys are checked by the caller (a-z, 0-9, '_', '.', '-'); the value is bound either way.
        for (const [key, value] of Object.entries(filter.labels ?? {}))
          conditions.push(sql`json_extract(${connections.labels}, ${`$."${key}"`}) = ${value}`);
        if (after) {
          const [createdAt, id] = after;
          conditions.push(or(lt(connections.createdAt, createdAt), and(eq(connections.createdAt, createdAt), lt(connections.id, id))));
        }
        const rows = db
          .select()
          .from(connections)
          .where(and(...conditions))
          .orderBy(desc(connections.createdAt), desc(connections.id))
          .limit(size + 1)
          .all();
        return toPage(rows, size, spec, toConnection, (c) => [c.createdAtMs, c.id]);
      }),

    updateConnectionStatus: (tenantId, id, expected, next, statusReason, changes = {}) =>
      runQuery(() => {
        const expectedStatuses = checkedStatusMove(expected, next);
        const scoped = and(eq(connections.tenantId, tenantId), eq(connections.id, id));
        return db.transaction(
          (tx) => {
            const updatedAt = now();
            const row = tx
              .update(connections)
              .set(connectionStatusUpdate(next, statusReason, changes, updatedAt))
              .where(and(scoped, inArray(connections.status, expectedStatuses)))
              .returning()
              .get();
            if (row) {
              const updated = toConnection(row);
              appendSqliteConnectionEvent(tx, ids, eventTypeOfStatus(next), updated, updatedAt);
              return updated;
            }
            // Lost the compare-and-set: tell a missing (or foreign) row from a status mismatch.
            const current = tx.select({ status: connections.status }).from(connections).where(scoped).get();
            throw connectionStatusConflict(id, current, expectedStatuses);
          },
          { behavior: "immediate" },
        );
      }),
  };
}
