/**
 * The audit log part of the storage contract: audit events and `AuditStore`.
 */
import type { Page, PageRequest } from "./common.ts";

/** One audited action. Never holds a secret value. */
export interface AuditEventRecord {
  /** Increases with insertion order. */
  id: number;
  timeMs: number;
  action: string;
  result: string;
  keyId: string | null;
  tenantId: string | null;
  connectionId: string | null;
  requestId: string | null;
  clientAddress: string | null;
  details: Record<string, string>;
}

/** What `appendAuditEvents` takes for each event. */
export interface AuditEventInput {
  timeMs: number;
  action: string;
  result: string;
  keyId?: string | null;
  tenantId?: string | null;
  connectionId?: string | null;
  requestId?: string | null;
  clientAddress?: string | null;
  details?: Record<string, string>;
}

/** Filters of `listAuditEvents`: time range is [startTimeMs, endTimeMs). */
export interface AuditEventFilter {
  tenantId?: string;
  connectionId?: string;
  action?: string;
  /** Events of requests made with this API key. */
  keyId?: string;
  startTimeMs?: number;
  endTimeMs?: number;
}

/** The audit log. */
export interface AuditStore {
  /** Appends events in one transaction, ids in array order. */
  appendAuditEvents(events: readonly AuditEventInput[]): Promise<void>;
  /** Lists events, newest first. */
  listAuditEvents(filter: AuditEventFilter, page: PageRequest): Promise<Page<AuditEventRecord>>;
  /** Deletes events older than `olderThanMs`; returns how many. */
  pruneAuditEvents(olderThanMs: number): Promise<number>;
}
