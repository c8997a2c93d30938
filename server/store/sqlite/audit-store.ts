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
  // One statement per batch, whatever its size: the rows travel as one JSON array of arrays
  // (one bound value) and SQLite inserts them in array order (json_each's key), so ids follow the
  // array. One prepare for every batch size, one call into SQLite per batch, and no per-row
  // parameter binding (a prepared single-row INSERT per event cost a call and nine named bindings
  // per row; drizzle's multi-row INSERT was new SQL text per batch size: bench/README.md).
  const insertBatch = client.prepare<[string]>(
    `INSERT INTO audit_events (time, action, result, key_id, tenant_id, connection_id, request_id, client_address, details)
     SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7, value->>8
     FROM json_each(?) ORDER BY key`,
  );
  return {
    appendAuditEvents: (events) =>
      runQuery(() => {
        if (events.length === 0) return;
        insertBatch.run(JSON.stringify(events.map(auditRowValues)));
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

/** One row's column values in INSERT order; details as its JSON text (the column holds text). */
function auditRowValues(event: AuditEventInput): unknown[] {
  const row = newAuditEventRow(event);
  return [
    row.time,
    wellFormed(row.action),
    wellFormed(row.result),
    wellFormed(row.keyId),
    wellFormed(row.tenantId),
    wellFormed(row.connectionId),
    wellFormed(row.requestId),
    wellFormed(row.clientAddress),
    JSON.stringify(row.details),
  ];
}

/**
 * A lone UTF-16 surrogate replaced by U+FFFD, as binding the string directly would store it: through
 * the batch's JSON text SQLite would store the surrogate's bytes as invalid UTF-8.
 */
function wellFormed<T extends string | null>(value: T): T {
  return (value === null ? null : value.toWellFormed()) as T;
}
