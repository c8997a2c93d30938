/**
 * Per-tenant wake-ups for WatchConnections streams. The events themselves live in the store's
 * connection event log; this feed only tells a tenant's streams "the log may have grown, read it"
 * (after a local commit, or another replica's, via pg-notify-bridge.ts) and ticks heartbeats. Each
 * subscriber holds at most one pending wake-up (latest-value), so a slow stream costs constant
 * memory and catches up by reading the log from its cursor. Wake-ups carry no data, so none can
 * leak or be lost in a way that matters: a missed one is covered by the next heartbeat, which also
 * makes the stream re-read the log.
 */

/**
 * What a subscriber is woken with: `changed` (read the log) or `heartbeat` (read it, then beat).
 * `generation` increases with every notification, resync and heartbeat tick, so streams woken by
 * the same one may share a read of the log that began after it (never one that began before it,
 * which could miss the commit it announces).
 */
export type FeedSignal = { type: "changed"; generation: number } | { type: "heartbeat"; serverTimeMs: number; generation: number };

/** Options of `createEventFeed`. */
export interface EventFeedOptions {
  /** Heartbeat period, ms; 0 turns heartbeats off (Config.watchHeartbeatMs, as WatchCredentials). */
  heartbeatMs: number;
  /** The app's clock, epoch milliseconds. */
  now: () => number;
}

/** The feed. */
export interface EventFeed {
  /**
   * Subscribes to a tenant's wake-ups until `signal` aborts, the consumer stops iterating, or the
   * feed closes. Registered at once: a commit announced after this call wakes it. Iterate once.
   */
  subscribe(tenantId: string, signal: AbortSignal): AsyncIterableIterator<FeedSignal>;
  /** Wakes the tenant's subscribers in this process (its log may have grown). */
  notify(tenantId: string): void;
  /** Wakes every subscriber (after notifications may have been lost). */
  resync(): void;
  /** Subscribers currently open (for a gauge). */
  watcherCount(): number;
  /** Ends every subscription and stops the heartbeat; later subscriptions end at once. */
  close(): void;
}

interface Subscriber {
  readonly tenantId: string;
  pending: FeedSignal | undefined;
  wake: ((result: IteratorResult<FeedSignal>) => void) | undefined;
  isClosed: boolean;
}

const DONE: IteratorResult<FeedSignal> = { value: undefined, done: true };

/** Creates a feed. */
export function createEventFeed(options: EventFeedOptions): EventFeed {
  const { heartbeatMs, now } = options;
  const byTenant = new Map<string, Set<Subscriber>>();
  let count = 0;
  let isFeedClosed = false;
  let heartbeat: NodeJS.Timeout | undefined;
  let generation = 0;

  const deliver = (subscriber: Subscriber, signal: FeedSignal) => {
    if (subscriber.isClosed) return;
    const wake = subscriber.wake;
    if (wake) {
      subscriber.wake = undefined;
      wake({ value: signal, done: false });
      return;
    }
    // A heartbeat re-reads the log too, so it absorbs a pending "changed"; a pending heartbeat is
    // kept (its beat is still owed) but takes the newer generation, so its read starts late enough.
    subscriber.pending = subscriber.pending?.type === "heartbeat" ? { ...subscriber.pending, generation: signal.generation } : signal;
  };

  const all = () => [...byTenant.values()].flatMap((set) => [...set]);

  const unsubscribe = (subscriber: Subscriber) => {
    if (subscriber.isClosed) return;
    subscriber.isClosed = true;
    subscriber.pending = undefined;
    const set = byTenant.get(subscriber.tenantId);
    if (set?.delete(subscriber)) {
      count -= 1;
      if (set.size === 0) byTenant.delete(subscriber.tenantId);
    }
    const wake = subscriber.wake;
    subscriber.wake = undefined;
    wake?.(DONE);
    if (count === 0 && heartbeat) {
      clearInterval(heartbeat);
      heartbeat = undefined;
    }
  };

  const startHeartbeat = () => {
    if (heartbeat || heartbeatMs <= 0 || isFeedClosed) return;
    heartbeat = setInterval(() => {
      generation += 1;
      const signal: FeedSignal = { type: "heartbeat", serverTimeMs: now(), generation };
      for (const subscriber of all()) deliver(subscriber, signal);
    }, heartbeatMs);
    heartbeat.unref();
  };

  return {
    subscribe(tenantId, signal) {
      const subscriber: Subscriber = { tenantId, pending: undefined, wake: undefined, isClosed: false };
      const onAbort = () => unsubscribe(subscriber);
      if (isFeedClosed || signal.aborted) {
        subscriber.isClosed = true;
      } else {
        let set = byTenant.get(tenantId);
        if (!set) {
          set = new Set();
          byTenant.set(tenantId, set);
        }
        set.add(subscriber);
        count += 1;
        signal.addEventListener("abort", onAbort, { once: true });
        startHeartbeat();
      }
      const iterator: AsyncIterableIterator<FeedSignal> = {
        next() {
          const pending = subscriber.pending;
          if (pending !== undefined) {
            subscriber.pending = undefined;
            return Promise.resolve({ value: pending, done: false });
          }
          if (subscriber.isClosed) {
            signal.removeEventListener("abort", onAbort);
            return Promise.resolve(DONE);
          }
          if (subscriber.wake) throw new Error("event feed: next() called while another next() waits");
          return new Promise((resolve) => {
            subscriber.wake = resolve;
          });
        },
        return() {
          signal.removeEventListener("abort", onAbort);
          unsubscribe(subscriber);
          return Promise.resolve(DONE);
        },
        [Symbol.asyncIterator]() {
          return iterator;
        },
      };
      return iterator;
    },

    notify(tenantId) {
      const set = byTenant.get(tenantId);
      if (!set) return;
      generation += 1;
      const signal: FeedSignal = { type: "changed", generation };
      for (const subscriber of set) deliver(subscriber, signal);
    },

    resync() {
      generation += 1;
      const signal: FeedSignal = { type: "changed", generation };
      for (const subscriber of all()) deliver(subscriber, signal);
    },

    watcherCount: () => count,

    close() {
      isFeedClosed = true;
      for (const subscriber of all()) unsubscribe(subscriber);
      if (heartbeat) clearInterval(heartbeat);
      heartbeat = undefined;
    },
  };
}
