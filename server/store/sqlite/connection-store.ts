/**
 * Connections in SQLite: the `connections` table (rows mapped in ../rows/row-mappers.ts).
 * Every query but `findConnectionById` filters on tenant_id, so another tenant's row reads as
 * missing. Status changes are compare-and-set and checked against domain/'s transition table first.
 * Every change appends its event (connection-events.ts) in the same transaction.
 */
import { and, desc, eq, inArray, lt, or, type SQL, sql } from "drizzle-orm";
import { eventTypeOfStatus } from "../../domain/connection-events.ts";
import { AlreadyExistsError, NotFoundError } from "../../domain/errors.ts";
import { PAGE_SPECS, parsePageRequest, toPage } from "../page-request.ts";
import { type ConnectionRow, type CredentialRow, toConnection, toCredential } from "../rows/row-mappers.ts";
import { connectionStatusUpdate, newConnectionRow } from "../rows/row-values.ts";
import { checkedStatusMove, connectionStatusConflict } from "../rows/write-conflicts.ts";
import type { ConnectionStore } from "../store.ts";
import { appendSqliteConnectionEvent } from "./connection-events.ts";
import { runQuery } from "./run-query.ts";
import { connections } from "./schema.ts";
import type { SqliteStoreContext } from "./store-context.ts";

/** A connections row as SQLite returns it: the JSON columns still text. */
type ConnectionRowText = Omit<ConnectionRow, "scopes" | "params" | "labels" | "metadata"> & {
  scopes: string;
  params: string;
  labels: string;
  metadata: string;
};

/** Creates the connection methods of the SQLite store. */
export function createSqliteConnectionStore({ db, client, now, ids }: SqliteStoreContext): ConnectionStore {
  // Prepared once: every GetToken and watch resync reads a connection, and building the query per
  // call (drizzle SQL generation + a fresh SQLite prepare) cost more than the read (bench/README.md).
  const byTenantAndId = db
    .select()
    .from(connections)
    .where(and(eq(connections.tenantId, sql.placeholder("tenantId")), eq(connections.id, sql.placeholder("id"))))
    .prepare();
  // GetToken's read: three point reads in one call, as plain better-sqlite3 statements (drizzle's
  // per-call placeholder filling and row mapping cost more than the reads: bench/README.md). On
  // SQLite (in process, no round trips) they also cost less than one statement joining the three
  // tables; PostgreSQL joins them (one round trip).
  const connectionForToken = client.prepare<[string, string], ConnectionRowText>(
    `SELECT id, tenant_id AS tenantId, user_id AS userId, provider_name AS providerName, status,
       status_reason AS statusReason, scopes, params, return_url AS returnUrl, created_at AS createdAt,
       updated_at AS updatedAt, credential_version AS credentialVersion,
       credential_expires_at AS credentialExpiresAt, next_refresh_at AS nextRefreshAt,
       account_id AS accountId, account_email AS accountEmail, account_display_name AS accountDisplayName,
       labels, metadata, reused_connection_id AS reusedConnectionId
     FROM connections WHERE tenant_id = ? AND id = ?`,
  );
  const credentialForToken = client.prepare<[string], CredentialRow>(
    `SELECT connection_id AS connectionId, ciphertext, key_id AS keyId, version, expires_at AS expiresAt,
       updated_at AS updatedAt
     FROM credentials WHERE connection_id = ?`,
  );
  // Prepared once: every refresh flight re-reads its connection under the lease.
  const byId = db
    .select()
    .from(connections)
    .where(eq(connections.id, sql.placeholder("id")))
    .prepare();
  const profileForToken = client.prepare<[string], { profile: string }>("SELECT profile FROM providers WHERE name = ?");
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
        const row = connectionForToken.get(tenantId, id);
        if (!row) throw new NotFoundError("connection", id);
        const credential = credentialForToken.get(id);
        return {
          connection: toConnection({
            ...row,
            scopes: JSON.parse(row.scopes) as string[],
            params: JSON.parse(row.params) as Record<string, string>,
            labels: JSON.parse(row.labels) as Record<string, string>,
            metadata: JSON.parse(row.metadata) as Record<string, string>,
          }),
          credential: credential ? toCredential(credential) : null,
          providerProfileJson: profileForToken.get(row.providerName)?.profile ?? null,
        };
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
