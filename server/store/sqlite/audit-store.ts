/**
 * The audit log in SQLite: the `audit_events` table (rows mapped in ../rows/row-mappers.ts).
 * Writes are batched by the caller (server/audit/); this module never decides what to audit and
 * stores details as given, so callers must pass no secret values.
 */
import { and, desc, eq, gte, lt, type SQL } from "drizzle-orm";
import { PAGE_SPECS, parsePageRequest, toPage } from "../page-request.ts";
import { toAuditEvent } from "../rows/row-mappers.ts";
import { newAuditEventRow } from "../rows/row-values.ts";
import type { AuditEventInput, AuditStore } from "../store.ts";
import { runQuery } from "./run-query.ts";
import { auditEvents } from "./schema.ts";
import type { SqliteStoreContext } from "./store-context.ts";

/** Creates the audit methods of the SQLite store. */
export function createSqliteAuditStore({ db, client }: SqliteStoreContext): AuditStore {
  // One prepared single-row INSERT run per event in one transaction: a multi-row INSERT built by
  // drizzle was new SQL text (and a fresh SQLite prepare) for every batch size, which cost more than
  // the rows themselves on the GetToken path's group commits (bench/README.md).
  const insert = client.prepare(
    `INSERT INTO audit_events (time, action, result, key_id, tenant_id, connection_id, request_id, client_address, details)
     VALUES (@time, @action, @result, @keyId, @tenantId, @connectionId, @requestId, @clientAddress, @details)`,
  );
  const insertAll = client.transaction((events: readonly AuditEventInput[]) => {
    for (const event of events) {
      const row = newAuditEventRow(event);
      insert.run({ ...row, details: JSON.stringify(row.details) });
    }
  });
  return {
    appendAuditEvents: (events) =>
      runQuery(() => {
        if (events.length === 0) return;
        insertAll(events);
      }),

    listAuditEvents: (filter, page) =>
      runQuery(() => {
        const spec = PAGE_SPECS.auditEvents;
        const { size, after } = parsePageRequest(page, spec);
        const conditions: (SQL | undefined)[] = [];
        if (filter.tenantId) conditions.push(eq(auditEvents.tenantId, filter.tenantId));
        if (filter.connectionId) conditions.push(eq(auditEvents.connectionId, filter.connectionId));
        if (filter.action) conditions.push(eq(auditEvents.action, filter.action));
        if (filter.keyId) conditions.push(eq(auditEvents.keyId, filter.keyId));
        if (filter.startTimeMs !== undefined) conditions.push(gte(auditEvents.time, filter.startTimeMs));
        if (filter.endTimeMs !== undefined) conditions.push(lt(auditEvents.time, filter.endTimeMs));
        if (after) conditions.push(lt(auditEvents.id, after[0]));
        const rows = db
          .select()
          .from(auditEvents)
          .where(and(...conditions))
          .orderBy(desc(auditEvents.id))
          .limit(size + 1)
          .all();
        return toPage(rows, size, spec, toAuditEvent, (e) => [e.id]);
      }),

    pruneAuditEvents: (olderThanMs) => runQuery(() => db.delete(auditEvents).where(lt(auditEvents.time, olderThanMs)).run().changes),
  };
}
