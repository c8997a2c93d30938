/**
 * One WatchConnections stream, in domain terms. The events are the store's connection event log
 * (written in each change's transaction, seq in commit order); this module subscribes to the
 * tenant's wake-ups FIRST, then replays the log after the cursor, then reads it again on every
 * wake-up and heartbeat. Because every read starts from the stream's own cursor and the cursor only
 * moves forward, an event is sent at most once (dedupe by seq) and, since any commit after the
 * subscription wakes the stream, at least once: no gap, no duplicate. A heartbeat goes out once the
 * replay is done (the stream is live) and then periodically. Streams of a tenant woken by the same
 * wake-up (same feed generation) at the same cursor share one read of the log, so N watchers cost
 * one query per change, not N. Nothing here holds a secret: events carry the non-secret connection
 * snapshot only.
 */
import { FailedPreconditionError } from "../domain/errors.ts";
import type { ConnectionEventRecord, Store } from "../store/store.ts";
import type { EventFeed } from "./event-feed.ts";

/** What the stream sends, before translation to proto; `seq` is the resume position after it. */
export type ConnectionWatchItem =
  | { type: "event"; event: ConnectionEventRecord; seq: number }
  | { type: "heartbeat"; serverTimeMs: number; seq: number };

/** Where and what a stream watches. */
export interface ConnectionWatchRequest {
  tenantId: string;
  /** Start after this log position; null to start now (or, with `replayRetained`, at the oldest retained event). */
  afterSeq: number | null;
  /** The cursor text the caller sent, for error messages only. */
  cursorText: string;
  /** Only this connection's events (already checked to be the tenant's). */
  connectionId?: string;
  replayRetained: boolean;
  signal: AbortSignal;
}

/** Opens WatchConnections streams. */
export interface ConnectionEventWatch {
  /** Streams the tenant's events until `signal` aborts; throws FailedPreconditionError for an expired or unknown cursor. */
  watch(request: ConnectionWatchRequest): AsyncGenerator<ConnectionWatchItem>;
}

/** Events read per store call while catching up. */
const PAGE_SIZE = 200;

/** Creates the stream factory. */
export function createConnectionEventWatch(deps: {
  store: Pick<Store, "listConnectionEvents" | "latestConnectionEventSeq" | "connectionEventsPrunedThrough">;
  feed: Pick<EventFeed, "subscribe">;
  now: () => number;
}): ConnectionEventWatch {
  const { store, feed, now } = deps;
  // In-flight reads shared by streams woken by the same wake-up: keyed by the feed generation, so a
  // read that began before a commit's wake-up is never joined by a stream that wake-up woke.
  const sharedReads = new Map<string, Promise<unknown>>();
  function shared<T>(key: string | undefined, load: () => Promise<T>): Promise<T> {
    if (key === undefined) return load();
    const existing = sharedReads.get(key) as Promise<T> | undefined;
    if (existing) return existing;
    const read = load();
    sharedReads.set(key, read);
    read.finally(() => sharedReads.get(key) === read && sharedReads.delete(key)).catch(() => undefined);
    return read;
  }
  return {
    async *watch(request) {
      const { tenantId, connectionId } = request;
      // Subscribe before reading anything: a commit from here on wakes us, earlier ones are in the log.
      const wakeups = feed.subscribe(tenantId, request.signal);
      try {
        let cursor = await startPosition(request);
        // A replay of "every retained event" has promised no position until its first page is read:
        // retention racing that read just means it starts later.
        let isStartFloating = request.afterSeq === null && request.replayRetained;

        /**
         * Sends every event after the cursor, moving it forward; with a connection filter, up to the
         * log's end. `generation` (of the wake-up) lets streams woken together share the reads.
         */
        async function* drain(generation?: number): AsyncGenerator<ConnectionWatchItem> {
          const key = (what: string) => (generation === undefined ? undefined : `${generation}\0${tenantId}\0${what}`);
          // Filtered reads skip other connections' events: the log's end (read first, so every
          // event up to it has committed) is where the next read may start.
          const end = connectionId === undefined ? 0 : await shared(key("latest"), () => store.latestConnectionEventSeq(tenantId));
          for (;;) {
            const afterSeq = cursor;
            const page = await shared(key(`${afterSeq}\0${connectionId ?? ""}`), () =>
              store.listConnectionEvents({ tenantId, afterSeq, limit: PAGE_SIZE, connectionId }),
            );
            // Read after the page: had retention deleted events after the cursor before the page
            // was read (a replay racing the pruner, a reader stalled past the retention), the page
            // silently lacks them. End the stream instead of skipping them.
            const pruned = await shared(key(`pruned\0${afterSeq}`), () => store.connectionEventsPrunedThrough(tenantId));
            // (A replay of every retained event has promised no position before its first page:
            // whatever that page holds is a gap-free start.)
            if (pruned > afterSeq && !isStartFloating) throw expired(request.cursorText);
            isStartFloating = false;
            for (const event of page) {
              if (event.seq <= cursor) continue;
              cursor = event.seq;
              yield { type: "event", event, seq: cursor };
            }
            if (page.length < PAGE_SIZE) break;
          }
          if (end > cursor) cursor = end;
        }

        yield* drain();
        yield { type: "heartbeat", serverTimeMs: now(), seq: cursor };
        for await (const wake of wakeups) {
          yield* drain(wake.generation);
          if (wake.type === "heartbeat") yield { type: "heartbeat", serverTimeMs: wake.serverTimeMs, seq: cursor };
        }
      } finally {
        await wakeups.return?.();
      }
    },
  };

  /** The log position to start after, checking a given cursor against the log. */
  async function startPosition(request: ConnectionWatchRequest): Promise<number> {
    const { tenantId, afterSeq } = request;
    if (afterSeq === null) {
      // "Every retained event": from where retention stopped (the log before it is gone).
      return request.replayRetained ? store.connectionEventsPrunedThrough(tenantId) : store.latestConnectionEventSeq(tenantId);
    }
    const [pruned, latest] = await Promise.all([store.connectionEventsPrunedThrough(tenantId), store.latestConnectionEventSeq(tenantId)]);
    if (afterSeq < pruned) throw expired(request.cursorText);
    if (afterSeq > latest) {
      throw new FailedPreconditionError(
        "event_cursor_unknown",
        request.cursorText,
        "the cursor lies beyond this server's event log; start again without one",
      );
    }
    return afterSeq;
  }
}

function expired(cursorText: string): FailedPreconditionError {
  return new FailedPreconditionError(
    "event_cursor_expired",
    cursorText,
    "events after this cursor were deleted by retention; start again without one and re-read the connections you need",
  );
}
