/**
 * Connections in PostgreSQL: the `connections` table (rows mapped in ../rows/row-mappers.ts).
 * Every query but `findConnectionById` filters on tenant_id, so another tenant's row reads as
 * missing. Status changes are compare-and-set and checked against domain/'s transition table first.
 * Every change appends its event (connection-events.ts) in the same transaction, as its last
 * statement (the event insert takes the event-writer lock).
 */
import { and, desc, eq, inArray, lt, or, type SQL, sql } from "drizzle-orm";
import { eventTypeOfStatus } from "../../domain/connection-events.ts";
import { AlreadyExistsError, NotFoundError } from "../../domain/errors.ts";
import { PAGE_SPECS, parsePageRequest, toPage } from "../page-request.ts";
import { toConnection, toCredential } from "../rows/row-mappers.ts";
import { connectionStatusUpdate, newConnectionRow } from "../rows/row-values.ts";
import { checkedStatusMove, connectionStatusConflict } from "../rows/write-conflicts.ts";
import type { ConnectionStore } from "../store.ts";
import { byteOrder } from "./byte-order.ts";
import { appendPostgresConnectionEvent } from "./connection-events.ts";
import { runQuery } from "./run-query.ts";
import { connections, credentials, providers } from "./schema.ts";
import type { PostgresStoreContext } from "./store-context.ts";

/** Creates the connection methods of the PostgreSQL store. */
export function createPostgresConnectionStore({ db, now, ids }: PostgresStoreContext): ConnectionStore {
  return {
    createConnection: (input) => {
      const id = input.id ?? ids.newId("conn");
      return runQuery(
        () =>
          db.transaction(async (tx) => {
            const createdAt = now();
            const [row] = await tx
              .insert(connections)
              .values(newConnectionRow(id, input, createdAt))
              .returning();
            const created = toConnection(row!);
            await appendPostgresConnectionEvent(tx, ids, "created", created, createdAt);
            return created;
          }),
        {
          unique: () => new AlreadyExistsError("connection", id),
          foreignKey: () => new NotFoundError("tenant", input.tenantId),
        },
      );
    },

    getConnection: (tenantId, id) =>
      runQuery(async () => {
        const [row] = await db
          .select()
          .from(connections)
          .where(and(eq(connections.tenantId, tenantId), eq(connections.id, id)));
        if (!row) throw new NotFoundError("connection", id);
        return toConnection(row);
      }),

    getConnectionForToken: (tenantId, id) =>
      runQuery(async () => {
        // One round trip: connection, credential and the provider's profile as text (not parsed here).
        const [row] = await db
          .select({ connection: connections, credential: credentials, providerProfileJson: sql<string | null>`${providers.profile}::text` })
          .from(connections)
          .leftJoin(credentials, eq(credentials.connectionId, connections.id))
          .leftJoin(providers, eq(providers.name, connections.providerName))
          .where(and(eq(connections.tenantId, tenantId), eq(connections.id, id)));
        if (!row) throw new NotFoundError("connection", id);
        return {
          connection: toConnection(row.connection),
          credential: row.credential ? toCredential(row.credential) : null,
          providerProfileJson: row.providerProfileJson,
        };
      }),

    findConnectionById: (id) =>
      runQuery(async () => {
        const [row] = await db.select().from(connections).where(eq(connections.id, id));
        return row ? toConnection(row) : null;
      }),

    listConnections: (tenantId, filter, page) =>
      runQuery(async () => {
        const spec = PAGE_SPECS.connections;
        const { size, after } = parsePageRequest(page, spec);
        const conditions: (SQL | undefined)[] = [eq(connections.tenantId, tenantId)];
        if (filter.userId) conditions.push(eq(connections.userId, filter.userId));
        if (filter.providerName) conditions.push(eq(connections.providerName, filter.providerName));
        if (filter.status) conditions.push(eq(connections.status, filter.status));
        if (filter.accountId) conditions.push(eq(connections.accountId, filter.accountId));
        // Label keys are checked by the caller (a-z, 0-9, '_', '.', '-'); the value is bound either way.
        for (const [key, value] of Object.entries(filter.labels ?? {})) conditions.push(sql`${connections.labels} ->> ${key} = ${value}`);
        if (after) {
          const [createdAt, id] = after;
          conditions.push(
            or(lt(connections.createdAt, createdAt), and(eq(connections.createdAt, createdAt), lt(byteOrder(connections.id), id))),
          );
        }
        const rows = await db
          .select()
          .from(connections)
          .where(and(...conditions))
          .orderBy(desc(connections.createdAt), desc(byteOrder(connections.id)))
          .limit(size + 1);
        return toPage(rows, size, spec, toConnection, (c) => [c.createdAtMs, c.id]);
      }),

    updateConnectionStatus: (tenantId, id, expected, next, statusReason, changes = {}) =>
      runQuery(async () => {
        const expectedStatuses = checkedStatusMove(expected, next);
        const scoped = and(eq(connections.tenantId, tenantId), eq(connections.id, id));
        return db.transaction(async (tx) => {
          const updatedAt = now();
          // One UPDATE … WHERE status IN (…) RETURNING: under READ COMMITTED a concurrent writer of
          // the same row makes this one wait, then re-check the WHERE against the committed row.
          const [row] = await tx
            .update(connections)
            .set(connectionStatusUpdate(next, statusReason, changes, updatedAt))
            .where(and(scoped, inArray(connections.status, expectedStatuses)))
            .returning();
          if (row) {
            const updated = toConnection(row);
            await appendPostgresConnectionEvent(tx, ids, eventTypeOfStatus(next), updated, updatedAt);
            return updated;
          }
          // Lost the compare-and-set: tell a missing (or foreign) row from a status mismatch.
          const [current] = await tx.select({ status: connections.status }).from(connections).where(scoped);
          throw connectionStatusConflict(id, current, expectedStatuses);
        });
      }),
  };
}
