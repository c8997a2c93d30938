/**
 * Per-connection fan-out of credential and status events to this process's watchers, with
 * latest-value semantics: each watcher holds at most one pending event (a slow reader gets the
 * newest state, never a backlog), so memory per watcher is constant. Events carry no secrets:
 * a watcher re-reads the credential from the store on a credential or resync event.
 * Cross-replica delivery is pg-notify-bridge.ts's job; this module knows no database.
 */
import type { ConnectionStatus } from "../domain/connection-status.ts";

/**
 * What a watcher receives. credential: a new version was saved (re-read it). status: the
 * connection's status changed. resync: events may have been missed or coalesced (re-read both
 * credential and status). heartbeat: nothing happened; keeps idle streams alive.
 */
export type WatchEvent =
  | { type: "credential"; version: number }
  | { type: "status"; status: ConnectionStatus; reason: string | null }
  | { type: "resync" }
  | { type: "heartbeat"; serverTimeMs: number };

/** An event about one connection, as published. */
export type ConnectionEvent =
  | { connectionId: string; type: "credential"; version: number }
  | { connectionId: string; type: "status"; status: ConnectionStatus; reason: string | null };

/** Options of `createWatchHub`. */
export interface WatchHubOptions {
  /** Heartbeat period, ms: one timer for the whole hub; 0 turns heartbeats off (Config.watchHeartbeatMs). */
  heartbeatMs: number;
  /** The app's clock, epoch milliseconds, for heartbeat times. */
  now: () => number;
}

/** The fan-out hub. */
export interface WatchHub {
  /**
   * Subscribes to one connection until `signal` aborts, the consumer stops iterating, or the hub
   * closes. Registered at once, so nothing published after this call is missed. Iterate once.
   */
  subscribe(connectionId: string, signal: AbortSignal): AsyncIterableIterator<WatchEvent>;
  /** Delivers an event to the connection's watchers in this process. */
  publish(event: ConnectionEvent): void;
  /** Tells every watcher to re-read (after notifications may have been lost). */
  resync(): void;
  /** Watchers currently subscribed (for a gauge). */
  watcherCount(): number;
  /** Whether the connection has a watcher in this process (e.g. the refresh engine's shouldKeepFresh). */
  hasWatchers(connectionId: string): boolean;
  /** Ends every subscription and stops the heartbeat; later subscriptions end at once. */
  close(): void;
}

interface Subscriber {
  readonly connectionId: string;
  pending: WatchEvent | undefined;
  wake: ((result: IteratorResult<WatchEvent>) => void) | undefined;
  /** The promise of the next() waiting on `wake`, if any. */
  reading: Promise<IteratorResult<WatchEvent>> | undefined;
  isClosed: boolean;
}

const DONE: IteratorResult<WatchEvent> = { value: undefined, done: true };

/**
 * Creates a hub.
 * @example for await (const event of hub.subscribe(id, request.signal)) { … }
 */
export function createWatchHub(options: WatchHubOptions): WatchHub {
  const { now, heartbeatMs } = options;
  const byConnection = new Map<string, Set<Subscriber>>();
  let count = 0;
  let isHubClosed = false;
  let heartbeat: NodeJS.Timeout | undefined;

  const deliver = (subscriber: Subscriber, event: WatchEvent) => {
    if (subscriber.isClosed) return;
    const wake = subscriber.wake;
    if (wake) {
      subscriber.wake = undefined;
      subscriber.reading = undefined;
      wake({ value: event, done: false });
      return;
    }
    subscriber.pending = coalesce(subscriber.pending, event);
  };

  const forEachSubscriber = (visit: (subscriber: Subscriber) => void) => {
    for (const set of byConnection.values()) for (const subscriber of set) visit(subscriber);
  };

  const startHeartbeat = () => {
    if (heartbeat || heartbeatMs <= 0 || isHubClosed) return;
    heartbeat = setInterval(() => {
      const event: WatchEvent = { type: "heartbeat", serverTimeMs: now() };
      forEachSubscriber((subscriber) => deliver(subscriber, event));
    }, heartbeatMs);
    // The heartbeat alone must not keep a process alive.
    heartbeat.unref();
  };

  const stopHeartbeatIfIdle = () => {
    if (count === 0 && heartbeat) {
      clearInterval(heartbeat);
      heartbeat = undefined;
    }
  };

  const unsubscribe = (subscriber: Subscriber) => {
    if (subscriber.isClosed) return;
    subscriber.isClosed = true;
    subscriber.pending = undefined;
    const set = byConnection.get(subscriber.connectionId);
    if (set?.delete(subscriber)) {
      count -= 1;
      if (set.size === 0) byConnection.delete(subscriber.connectionId);
    }
    const wake = subscriber.wake;
    subscriber.wake = undefined;
    subscriber.reading = undefined;
    wake?.(DONE);
    stopHeartbeatIfIdle();
  };

  return {
    subscribe(connectionId, signal) {
      const subscriber: Subscriber = { connectionId, pending: undefined, wake: undefined, reading: undefined, isClosed: false };
      const onAbort = () => unsubscribe(subscriber);
      if (isHubClosed || signal.aborted) {
        subscriber.isClosed = true;
      } else {
        let set = byConnection.get(connectionId);
        if (!set) {
          set = new Set();
          byConnection.set(connectionId, set);
        }
        set.add(subscriber);
        count += 1;
        signal.addEventListener("abort", onAbort, { once: true });
        startHeartbeat();
      }
      const end = () => {
        signal.removeEventListener("abort", onAbort);
        unsubscribe(subscriber);
      };
      const iterator: AsyncIterableIterator<WatchEvent> = {
        next() {
          const event = subscriber.pending;
          if (event !== undefined) {
            subscriber.pending = undefined;
            return Promise.resolve({ value: event, done: false });
          }
          if (subscriber.isClosed) {
            signal.removeEventListener("abort", onAbort);
            return Promise.resolve(DONE);
          }
          // A second next() while one is waiting queues behind it (async iterator protocol), so a
          // caller racing next() against a timer and calling again loses nothing.
          if (subscriber.reading) return subscriber.reading.then(() => iterator.next());
          const reading = new Promise<IteratorResult<WatchEvent>>((resolve) => {
            subscriber.wake = resolve;
          });
          subscriber.reading = reading;
          return reading;
        },
        return() {
          end();
          return Promise.resolve(DONE);
        },
        [Symbol.asyncIterator]() {
          return iterator;
        },
      };
      return iterator;
    },

    publish(event) {
      const set = byConnection.get(event.connectionId);
      if (!set) return;
      const { connectionId: _id, ...watchEvent } = event;
      for (const subscriber of set) deliver(subscriber, watchEvent);
    },

    resync() {
      forEachSubscriber((subscriber) => deliver(subscriber, { type: "resync" }));
    },

    watcherCount: () => count,
    hasWatchers: (connectionId) => byConnection.has(connectionId),

    close() {
      isHubClosed = true;
      const all: Subscriber[] = [];
      forEachSubscriber((subscriber) => all.push(subscriber));
      for (const subscriber of all) unsubscribe(subscriber);
      if (heartbeat) clearInterval(heartbeat);
      heartbeat = undefined;
    },
  };
}

/**
 * The one pending event after `incoming` arrives on top of `pending`: a heartbeat never displaces
 * anything; a resync absorbs everything; two credential events keep the higher version; two
 * status events keep the newest; a credential and a status together become a resync (re-read both).
 */
function coalesce(pending: WatchEvent | undefined, incoming: WatchEvent): WatchEvent {
  if (pending === undefined || pending.type === "heartbeat") return incoming;
  if (incoming.type === "heartbeat") return pending;
  if (pending.type === "resync" || incoming.type === "resync") return { type: "resync" };
  if (pending.type === "credential" && incoming.type === "credential") {
    return incoming.version >= pending.version ? incoming : pending;
  }
  if (pending.type === "status" && incoming.type === "status") return incoming;
  return { type: "resync" };
}
