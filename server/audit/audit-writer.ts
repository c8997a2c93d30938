/**
 * The audit log's writer, with group commit: events queue in a bounded buffer and are written in
 * one transaction every `flushIntervalMs` (default 50 ms), as soon as `maxBatchSize` (default 100)
 * wait, and on `close`. A credential read never waits on an audit write, and SQLite sees one
 * commit per batch instead of one per request.
 *
 * Policy when the store fails (database outage): nothing queued is dropped; the buffer is retried,
 * with backoff capped at `maxRetryDelayMs`, until it is written. A credential delivery goes through
 * `admit`, which refuses (StoreUnavailableError, so the caller gets Unavailable and no credential)
 * when the buffer is full: no credential leaves unaudited. Other events (`record`) are dropped when
 * it is full, each loss counted (`stats().droppedTotal`) and logged at error level. What a crash
 * can still lose: the events buffered but not yet committed. Events carry ids and outcomes only;
 * callers must never pass a secret value. Field lengths are capped (ids come from requests) when a
 * batch is written: accepting an event only stamps its time and keeps it (do not change an event
 * object after recording it).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { StoreUnavailableError } from "../domain/errors.ts";
import type { Logger } from "../logging/logger.ts";
import type { AuditEventInput, Store } from "../store/store.ts";

/** One event as callers give it; the writer stamps the time. */
export type AuditEvent = Omit<AuditEventInput, "timeMs">;

/** Facts about the current request that events recorded inside `withRequest` inherit. */
export interface AuditRequestFacts {
  requestId?: string;
  clientAddress?: string;
}

/** Counters for metrics (nexus_audit_buffer_depth, nexus_audit_dropped_total, …). */
export interface AuditWriterStats {
  /** Events accepted and not yet committed (including a batch being written). */
  depth: number;
  /** Events never written: buffer full, or still unwritten when the writer closed. */
  droppedTotal: number;
  /** Credential deliveries refused because the buffer was full. */
  refusedTotal: number;
  /** Batch writes that failed (each is retried). */
  writeFailuresTotal: number;
}

/** The audit writer. */
export interface AuditWriter {
  /** Queues an event; never throws, never waits. Dropped (counted, logged) when the buffer is full. */
  record(event: AuditEvent): void;
  /**
   * Queues the event of a credential about to be handed out; never waits.
   * @throws StoreUnavailableError when the buffer is full or the writer closed: do not hand it out.
   */
  admit(event: AuditEvent): void;
  /** Runs `fn` so that events it records without a request id or client address inherit `facts`. */
  withRequest<T>(facts: AuditRequestFacts, fn: () => T): T;
  /** Writes everything queued so far; what fails to write stays queued for the retry timer. */
  flush(): Promise<void>;
  /** Flushes and stops (a few retries if the store fails); later events are dropped or refused. */
  close(): Promise<void>;
  stats(): AuditWriterStats;
}

/** Options of `createAuditWriter`. */
export interface AuditWriterOptions {
  store: Pick<Store, "appendAuditEvents">;
  logger: Logger;
  /** Epoch milliseconds for event times. */
  now: () => number;
  /** Longest wait before queued events are written, in ms. Default 50. */
  flushIntervalMs?: number;
  /** A batch this large is written at once. Default 100. */
  maxBatchSize?: number;
  /** Most events buffered (store slow or down); beyond it credential deliveries are refused. Default 10 000. */
  maxQueued?: number;
  /** Cap of the retry backoff after failed writes, ms. Default 1000. */
  maxRetryDelayMs?: number;
}

const MAX_FIELD = 256;
/** Rows per INSERT when catching up (PostgreSQL takes at most 65 535 bound values per statement). */
const MAX_WRITE_ROWS = 1_000;
/** Flush attempts `close` makes before giving the rest up as lost. */
const CLOSE_ATTEMPTS = 3;

/** Creates the writer. */
export function createAuditWriter(options: AuditWriterOptions): AuditWriter {
  const { store, logger, now } = options;
  const flushIntervalMs = options.flushIntervalMs ?? 50;
  const maxBatchSize = options.maxBatchSize ?? 100;
  const maxQueued = options.maxQueued ?? 10_000;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 1_000;
  const ambient = new AsyncLocalStorage<AuditRequestFacts>();
  /** Events as recorded; capped and shaped into rows only when a batch is written (`toRow`). */
  let queue: Queued[] = [];
  let inFlight = 0;
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<boolean> | undefined;
  let isClosed = false;
  /** Consecutive failed writes: drives the retry backoff. */
  let failures = 0;
  let droppedSinceLog = 0;
  const totals = { droppedTotal: 0, refusedTotal: 0, writeFailuresTotal: 0 };
  const depth = () => queue.length + inFlight;

  let isTimerImmediate = false;
  const schedule = () => {
    if (writing !== undefined || queue.length === 0 || isClosed) return;
    if (failures > 0) {
      if (timer !== undefined) return;
      timer = setTimeout(() => void flush(), Math.min(maxRetryDelayMs, flushIntervalMs * 2 ** failures));
      timer.unref();
      return;
    }
    const isFull = queue.length >= maxBatchSize;
    if (timer !== undefined && (isTimerImmediate || !isFull)) return;
    clearTimeout(timer);
    isTimerImmediate = isFull;
    timer = setTimeout(() => void flush(), isFull ? 0 : flushIntervalMs);
    timer.unref();
  };

  /** Writes one chunk; on failure puts it back in front. Resolves whether it was written. */
  const writeOnce = async (): Promise<boolean> => {
    const batch = queue.splice(0, MAX_WRITE_ROWS);
    inFlight = batch.length;
    try {
      await store.appendAuditEvents(batch.map(toRow));
      if (failures > 0) logger.info({ events: batch.length, failedAttempts: failures }, "audit writes recovered");
      failures = 0;
      return true;
    } catch (err) {
      queue = [...batch, ...queue];
      failures += 1;
      totals.writeFailuresTotal += 1;
      // Loud on the first failure, then every tenth: an outage retries every second or so.
      if (failures === 1 || failures % 10 === 0) {
        logger.error({ err, queued: queue.length, attempt: failures }, "audit write failed; events kept and retried");
      }
      return false;
    } finally {
      inFlight = 0;
    }
  };

  const flush = async (): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    while (writing !== undefined) await writing;
    while (queue.length > 0) {
      writing = writeOnce().finally(() => {
        writing = undefined;
      });
      if (!(await writing)) break;
    }
    if (droppedSinceLog > 0) {
      logger.error({ dropped: droppedSinceLog, droppedTotal: totals.droppedTotal }, "audit events dropped: the buffer was full");
      droppedSinceLog = 0;
    }
    schedule();
  };

  // The whole per-event cost on the request's path: the time, the ambient facts, one push.
  const enqueue = (event: AuditEvent) => {
    const facts = event.requestId == null || event.clientAddress == null ? ambient.getStore() : undefined;
    queue.push({ timeMs: now(), event: withinBounds(event), facts });
    schedule();
  };

  return {
    record(event) {
      if (isClosed) {
        totals.droppedTotal += 1;
        logger.error({ action: event.action }, "audit event after close dropped");
        return;
      }
      if (depth() >= maxQueued) {
        if (droppedSinceLog === 0) logger.error({ action: event.action, maxQueued }, "audit buffer full: events are being dropped");
        droppedSinceLog += 1;
        totals.droppedTotal += 1;
        return;
      }
      enqueue(event);
    },
    admit(event) {
      if (isClosed || depth() >= maxQueued) {
        totals.refusedTotal += 1;
        if (totals.refusedTotal === 1 || totals.refusedTotal % 100 === 0) {
          logger.error(
            { action: event.action, refusedTotal: totals.refusedTotal },
            "credential refused: its audit event cannot be buffered",
          );
        }
        throw new StoreUnavailableError(isClosed ? "audit log closed" : "audit buffer full");
      }
      enqueue(event);
    },
    withRequest: (facts, fn) => ambient.run(facts, fn),
    flush,
    async close() {
      isClosed = true;
      for (let attempt = 1; attempt <= CLOSE_ATTEMPTS && depth() > 0; attempt += 1) {
        if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, Math.min(maxRetryDelayMs, flushIntervalMs * 2 ** attempt)));
        await flush();
      }
      clearTimeout(timer);
      timer = undefined;
      if (queue.length > 0) {
        totals.droppedTotal += queue.length;
        logger.error({ lost: queue.length }, "audit events lost at shutdown: the store could not be written");
        queue = [];
      }
    },
    stats: () => ({ depth: depth(), ...totals }),
  };
}

/** An accepted event: what `record` / `admit` got, with its time and the ambient request facts. */
interface Queued {
  timeMs: number;
  event: AuditEvent;
  facts: AuditRequestFacts | undefined;
}

/** The row of a queued event, fields capped (ids come from requests). */
function toRow({ timeMs, event, facts }: Queued): AuditEventInput {
  return {
    timeMs,
    action: cap(event.action) ?? "unknown",
    result: cap(event.result) ?? "unknown",
    keyId: cap(event.keyId),
    tenantId: cap(event.tenantId),
    connectionId: cap(event.connectionId),
    requestId: cap(event.requestId ?? facts?.requestId),
    clientAddress: cap(event.clientAddress ?? facts?.clientAddress),
    details: capDetails(event.details),
  };
}

function cap(value: string | null | undefined): string | null {
  if (value === undefined || value === null || value === "") return null;
  return value.length > MAX_FIELD ? `${value.slice(0, MAX_FIELD)}…` : value;
}

/**
 * The event as queued: itself when every field is within the cap (the common case: one length check
 * per field), else a copy whose long strings are cut, as real copies: a V8 slice of a long string
 * keeps the whole original alive, so a queue of 10,000 events during a store outage would hold up to
 * 10,000 request bodies (1 MiB each) instead of 10,000 capped rows.
 */
function withinBounds(event: AuditEvent): AuditEvent {
  const { details } = event;
  const fields = [event.action, event.result, event.keyId, event.tenantId, event.connectionId, event.requestId, event.clientAddress];
  const detailsLong = details !== undefined && Object.entries(details).some(([key, value]) => key.length > 64 || isLong(value));
  if (!detailsLong && !fields.some(isLong)) return event;
  const own = (value: string | null | undefined) => (isLong(value) ? detach(cap(value)) : value);
  return {
    ...event,
    action: own(event.action) ?? event.action,
    result: own(event.result) ?? event.result,
    keyId: own(event.keyId),
    tenantId: own(event.tenantId),
    connectionId: own(event.connectionId),
    requestId: own(event.requestId),
    clientAddress: own(event.clientAddress),
    details: detailsLong
      ? Object.fromEntries(
          Object.entries(details)
            .slice(0, 16)
            .map(([key, value]) => [detach(key.slice(0, 64)), own(value) ?? ""]),
        )
      : details,
  };
}

function isLong(value: string | null | undefined): boolean {
  return value != null && value.length > MAX_FIELD;
}

/** A flat copy of `value` that shares no memory with the string it was cut from. */
function detach<T extends string | null>(value: T): T {
  return (value === null ? null : Buffer.from(value, "utf16le").toString("utf16le")) as T;
}

function capDetails(details: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(details ?? {}).slice(0, 16)) out[key.slice(0, 64)] = cap(value) ?? "";
  return out;
}
