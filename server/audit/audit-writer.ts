/**
 * The audit log's writer, with group commit: `record` only queues, and queued events are written
 * in one transaction every `flushIntervalMs` (default 50 ms) or as soon as `maxBatchSize` (default
 * 100) are waiting, and on `close`. So a credential read never waits on an audit write, and SQLite
 * sees one commit per batch instead of one per request.
 *
 * What a crash can lose: events queued but not yet committed — at most ~`flushIntervalMs` of events
 * (or one batch) for a process that dies abruptly (SIGKILL, power loss); a graceful shutdown
 * flushes. A failed batch is retried once at the next flush, then dropped with an error log.
 * Events carry ids and outcomes only; callers must never pass a secret value. Field lengths are
 * capped, because some values (ids) come from requests.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Logger } from "../logging/logger.ts";
import type { AuditEventInput, Store } from "../store/store.ts";

/** One event as callers give it; the writer stamps the time. */
export type AuditEvent = Omit<AuditEventInput, "timeMs">;

/** Facts about the current request that events recorded inside `withRequest` inherit. */
export interface AuditRequestFacts {
  requestId?: string;
  clientAddress?: string;
}

/** The audit writer. */
export interface AuditWriter {
  /** Queues an event; never throws, never waits. */
  record(event: AuditEvent): void;
  /** Runs `fn` so that events it records without a request id or client address inherit `facts`. */
  withRequest<T>(facts: AuditRequestFacts, fn: () => T): T;
  /** Writes everything queued so far. */
  flush(): Promise<void>;
  /** Flushes and stops; later `record` calls are dropped with a warning. */
  close(): Promise<void>;
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
  /** Most events kept waiting (store slow or down); beyond it new events are dropped. Default 100 000. */
  maxQueued?: number;
}

const MAX_FIELD = 256;

/** Creates the writer. */
export function createAuditWriter(options: AuditWriterOptions): AuditWriter {
  const { store, logger, now } = options;
  const flushIntervalMs = options.flushIntervalMs ?? 50;
  const maxBatchSize = options.maxBatchSize ?? 100;
  const maxQueued = options.maxQueued ?? 100_000;
  const ambient = new AsyncLocalStorage<AuditRequestFacts>();
  let queue: { event: AuditEventInput; attempts: number }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> | undefined;
  let isClosed = false;
  let dropped = 0;

  let isTimerImmediate = false;
  const schedule = () => {
    if (writing !== undefined || queue.length === 0) return;
    const isFull = queue.length >= maxBatchSize;
    if (timer !== undefined && (isTimerImmediate || !isFull)) return;
    clearTimeout(timer);
    isTimerImmediate = isFull;
    timer = setTimeout(() => void flush(), isFull ? 0 : flushIntervalMs);
    timer.unref();
  };

  const writeOnce = async () => {
    const batch = queue;
    queue = [];
    try {
      await store.appendAuditEvents(batch.map((b) => b.event));
    } catch (err) {
      const retry = batch.filter((b) => b.attempts === 0).map((b) => ({ ...b, attempts: 1 }));
      const lost = batch.length - retry.length;
      queue = [...retry, ...queue];
      logger.error({ err, events: batch.length, lost }, "audit write failed");
    }
  };

  const flush = async (): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    while (writing !== undefined) await writing;
    if (queue.length === 0) return;
    writing = writeOnce().finally(() => {
      writing = undefined;
    });
    await writing;
    if (dropped > 0) {
      logger.error({ dropped }, "audit events dropped: the queue was full");
      dropped = 0;
    }
    schedule();
  };

  return {
    record(event) {
      if (isClosed) {
        logger.warn({ action: event.action }, "audit event after close dropped");
        return;
      }
      if (queue.length >= maxQueued) {
        dropped += 1;
        return;
      }
      const facts = ambient.getStore();
      queue.push({
        attempts: 0,
        event: {
          timeMs: now(),
          action: cap(event.action) ?? "unknown",
          result: cap(event.result) ?? "unknown",
          keyId: cap(event.keyId),
          tenantId: cap(event.tenantId),
          connectionId: cap(event.connectionId),
          requestId: cap(event.requestId ?? facts?.requestId),
          clientAddress: cap(event.clientAddress ?? facts?.clientAddress),
          details: capDetails(event.details),
        },
      });
      schedule();
    },
    withRequest: (facts, fn) => ambient.run(facts, fn),
    flush,
    async close() {
      isClosed = true;
      await flush();
      // A batch that failed once is retried here rather than waiting for a timer that won't come.
      if (queue.length > 0) await flush();
    },
  };
}

function cap(value: string | null | undefined): string | null {
  if (value === undefined || value === null || value === "") return null;
  return value.length > MAX_FIELD ? `${value.slice(0, MAX_FIELD)}…` : value;
}

function capDetails(details: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(details ?? {}).slice(0, 16)) out[key.slice(0, 64)] = cap(value) ?? "";
  return out;
}
