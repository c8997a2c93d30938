/**
 * WatchCredentials fan-out that costs one encoding per event: the watchers of one connection share
 * one hub subscription and one re-read per event, each event is encoded once per codec (proto or
 * JSON; gRPC, gRPC-Web and Connect streaming frame it the same way), and the very same bytes are
 * written to every stream, a bounded number of streams per event-loop turn so that writes leave
 * the process while the fan-out goes on.
 *
 * Why: through connect-node a streamed message crosses about a dozen async generators per stream
 * (the handler, every interceptor's wrapper, serialize, envelope, the Node writer awaiting each
 * write), and is serialised again for every stream: ~100 µs of CPU per stream per message (see
 * bench/README.md). A stream joins here only after its first message went out through connect-es,
 * so its headers are sent and connect-es is parked on the handler, which awaits `attach`; when the
 * stream must end (connection revoked, key revoked or expired, audit refusal, read failure, hub
 * closed, client gone, deadline, shutdown) `attach` settles and connect-es writes the end of the
 * stream as for any other RPC (gRPC trailers, gRPC-Web trailer frame, Connect end-stream JSON).
 *
 * Per stream it keeps one small record (no closures): its wire, codec, context and what it has seen.
 * Semantics are the per-stream path's (credential-watch.ts): a status change is reported, a
 * revoked or attention_required connection ends the stream, a credential is delivered once per
 * newer version after the key's re-check and its audit row, heartbeats pass through.
 *
 * Per event: one re-read of the connection, its credential and its provider (`watch.read`; the app's
 * is TokenReader.readWatched, one statement and the provider's cached parse). Per step, the key
 * check runs once per key (`keyOf`) and again for each stream of a key that failed it; per stream
 * there is no allocation but its share of its delivery group's list.
 *
 * Audit: the streams written in one event-loop turn are checked, audited and written in one
 * synchronous step, so nothing happens between a stream's key re-check, its audit row and its
 * bytes. Streams of that step in one delivery group (`auditGroupOf`: same key, tenant, client
 * address) share one token.deliver row counting them; a refused row withholds the version from,
 * and ends, every stream it counts.
 */
import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { WatchCredentialsResponseSchema } from "../../gen/nexus/v1/tokens_pb.ts";
import { endsWatch, isUsable } from "../domain/connection-status.ts";
import { ConnectionNotUsableError } from "../domain/errors.ts";
import type { RefreshEngine } from "../refresh/refresh-engine.ts";
import type { RawStreamSink } from "../request/context.ts";
import type { ConnectionRecord } from "../store/store.ts";
import type { UsageCredential } from "../tokens/usage-credential.ts";
import type { CredentialWatch, CredentialWatchEvent, SharedRead } from "../watch/credential-watch.ts";
import type { WatchEvent, WatchHub } from "../watch/watch-hub.ts";
import { Frames, frame } from "./watch-fanout-frames.ts";
import { type FanoutCore, type FanoutWatcher, Group, Watcher } from "./watch-fanout-members.ts";
import { watchEventToProto } from "./watch-proto.ts";

export type { FanoutWatcher } from "./watch-fanout-members.ts";

/** Streams written per event-loop turn (across all connections). */
const STREAMS_PER_TURN = 500;

/** Options of `createWatchFanout`. */
export interface WatchFanoutDeps {
  hub: WatchHub;
  watch: Pick<CredentialWatch, "read">;
  engine: Pick<RefreshEngine, "keepFresh">;
  /** Throws when the caller may no longer receive credentials (key revoked or expired). */
  assertMayReceive: (ctx: HandlerContext) => void;
  /**
   * Records the delivery of `credential` to `streams` streams of one delivery group (`ctx` is one
   * of them; 1 unless `auditGroupOf` is given) in the audit log; throws to refuse it to all of them.
   */
  auditDelivery: (ctx: HandlerContext, credential: UsageCredential, streams: number) => void;
  /** Streams with the same value may share one `auditDelivery` per event; absent: one call per stream. */
  auditGroupOf?: (ctx: HandlerContext) => string;
  /**
   * Streams with the same value pass or fail `assertMayReceive` together at one instant (same key,
   * same expiry): in one synchronous step the check runs once per value, and again for every stream
   * of a value that failed it (so each ends with its own error). Absent: one check per stream.
   */
  keyOf?: (ctx: HandlerContext) => string;
  /** Streams written per event-loop turn; default 500. */
  streamsPerTurn?: number;
}

/** The fan-out. */
export interface WatchFanout {
  /**
   * Registers a stream of `connection` (tenant-checked by the caller) before its first read, so no
   * event published from now on is missed, and reads what the stream starts with: the events to
   * send through connect-es (a status, then the credential, as credential-watch.ts would), and the
   * error that ends the stream after them, if any. Call `leave` in a finally.
   */
  open(
    connection: ConnectionRecord,
    afterVersion: number,
    sink: RawStreamSink,
    ctx: HandlerContext,
  ): Promise<{ watcher: FanoutWatcher; first: CredentialWatchEvent[]; end: Error | undefined }>;
  /**
   * Hands the stream, whose first events have been sent, to the fan-out: resolves when it ends
   * quietly (client gone, hub closed), rejects with the error that ends it.
   */
  attach(watcher: FanoutWatcher): Promise<void>;
  /** Removes the stream (idempotent). */
  leave(watcher: FanoutWatcher): void;
  /** Streams in the fan-out. */
  watcherCount(): number;
  /** Connections with at least one such stream (each holds one hub subscription). */
  groupCount(): number;
}

/** Creates the fan-out. */
export function createWatchFanout(deps: WatchFanoutDeps): WatchFanout {
  const perTurn = deps.streamsPerTurn ?? STREAMS_PER_TURN;
  const groups = new Map<string, Group>();
  let count = 0;

  // One write budget per event-loop turn, shared by every connection's fan-out.
  let budget = perTurn;
  let isRefillScheduled = false;
  const waiting: (() => void)[] = [];
  const refill = () => {
    isRefillScheduled = false;
    budget = perTurn;
    for (const resume of waiting.splice(0)) resume();
  };
  const nextTurn = (): Promise<void> => {
    if (!isRefillScheduled) {
      isRefillScheduled = true;
      setImmediate(refill);
    }
    return new Promise<void>((resume) => waiting.push(resume));
  };

  const core: FanoutCore = {
    end(watcher, err) {
      if (watcher.isClosed) return;
      watcher.isClosed = true;
      watcher.ctx.signal.removeEventListener("abort", watcher);
      const { group } = watcher;
      if (group.watchers.delete(watcher)) {
        count -= 1;
        if (group.watchers.size === 0) {
          group.stop.abort();
          if (groups.get(group.connectionId) === group) groups.delete(group.connectionId);
        }
      }
      watcher.endError = err;
      const settle = watcher.settle;
      watcher.settle = undefined;
      settle?.(err);
    },
  };

  const write = (watcher: Watcher, bytes: Uint8Array) => {
    const { body } = watcher;
    if (body.destroyed || body.writableEnded) return;
    body.write(bytes);
  };

  /**
   * What one stream is owed after `read` before any credential: a status change, or the end.
   * Whether it is owed the credential (a newer version, and its key may still receive it).
   * `cleared`: the keys (`keyOf`) that passed the check in this synchronous step.
   */
  const isOwed = (watcher: Watcher, frames: Frames, cleared: Set<string>): boolean => {
    if (watcher.isClosed) return false;
    if (!watcher.isAttached) {
      watcher.missed = true;
      return false;
    }
    const { connection, credential } = frames.read;
    if (connection.status !== watcher.lastStatus) {
      watcher.lastStatus = connection.status;
      write(watcher, frames.statusFrame(watcher.codec));
    }
    if (endsWatch(connection.status)) {
      core.end(watcher, new ConnectionNotUsableError(connection.id, connection.status));
      return false;
    }
    if (credential === undefined || credential.version <= watcher.lastVersion) return false;
    const key = watcher.keyGroup;
    // Checked already for this key in this step. (A stream whose own signal aborted is closed by
    // then: its abort listener runs synchronously. Not re-read here: `aborted` of a composite signal
    // costs as much as the key check.)
    if (key !== undefined && cleared.has(key)) return true;
    try {
      // A key revoked or expired since the stream opened gets nothing more, not even an audit row.
      deps.assertMayReceive(watcher.ctx);
    } catch (err) {
      core.end(watcher, err);
      return false;
    }
    if (key !== undefined) cleared.add(key);
    return true;
  };

  /** Audits then writes the credential to `owed` (one delivery group, or one stream). */
  const send = (owed: readonly Watcher[], frames: Frames) => {
    const credential = frames.read.credential;
    const first = owed[0];
    if (credential === undefined || first === undefined) return;
    let open = 0;
    for (const watcher of owed) if (!watcher.isClosed) open += 1;
    if (open === 0) return;
    try {
      deps.auditDelivery(first.ctx, credential, open);
    } catch (err) {
      for (const watcher of owed) core.end(watcher, err);
      return;
    }
    const bytes = frames.credentialFrame(first.codec, credential);
    for (const watcher of owed) {
      if (watcher.isClosed) continue;
      watcher.lastVersion = credential.version;
      write(watcher, watcher.codec === first.codec ? bytes : frames.credentialFrame(watcher.codec, credential));
    }
  };

  /** Statuses and ends of `watchers`, then per delivery group one audit row and the writes, in one step. */
  const deliverStep = (watchers: Iterable<Watcher>, frames: Frames) => {
    // Per step, not per stream: the keys checked in it and its delivery groups.
    const cleared = new Set<string>();
    let groups: Map<string, Watcher[]> | undefined;
    for (const watcher of watchers) {
      if (!isOwed(watcher, frames, cleared)) continue;
      const key = watcher.auditGroup;
      if (key === undefined) {
        send([watcher], frames);
        continue;
      }
      groups ??= new Map();
      const owed = groups.get(key);
      if (owed === undefined) groups.set(key, [watcher]);
      else owed.push(watcher);
    }
    if (groups !== undefined) for (const owed of groups.values()) send(owed, frames);
  };

  /** Visits the group's streams in steps of this turn's write budget (the rest in later turns). */
  const forEachStep = async (group: Group, visit: (watchers: Iterable<Watcher>) => void) => {
    const size = group.watchers.size;
    if (size <= budget) {
      // The usual case (a few streams per connection): no copy of the set.
      budget -= size;
      visit(group.watchers);
      return;
    }
    const watchers = [...group.watchers];
    for (let from = 0; from < watchers.length; ) {
      while (budget === 0) await nextTurn();
      const to = Math.min(watchers.length, from + budget);
      budget -= to - from;
      visit(from === 0 && to === watchers.length ? watchers : watchers.slice(from, to));
      from = to;
    }
  };

  const handle = async (group: Group, event: WatchEvent) => {
    if (event.type === "heartbeat") {
      const bytes: Partial<Record<"proto" | "json", Uint8Array>> = {};
      const message = create(WatchCredentialsResponseSchema, watchEventToProto(event));
      await forEachStep(group, (watchers) => {
        for (const watcher of watchers) {
          // A stream that is not reading gets no heartbeat piling up behind its last event.
          if (watcher.isClosed || !watcher.isAttached || watcher.body.writableNeedDrain) continue;
          bytes[watcher.codec] ??= frame(message, watcher.codec);
          write(watcher, bytes[watcher.codec]!);
        }
      });
      return;
    }
    // A stream still sending its first messages catches up when it attaches (even if the re-read fails).
    let isNews = event.type !== "credential";
    for (const watcher of group.watchers) {
      if (!watcher.isAttached) watcher.missed = true;
      else if (event.type === "credential" && watcher.lastVersion < event.version) isNews = true;
    }
    if (!isNews) return;
    const read = await deps.watch.read(group.tenantId, group.connectionId, event.type === "credential" ? event.version : 0);
    const frames = new Frames(read);
    await forEachStep(group, (watchers) => deliverStep(watchers, frames));
    if (isUsable(read.connection.status)) await deps.engine.keepFresh(read.connection);
  };

  const run = async (group: Group) => {
    const events = deps.hub.subscribe(group.connectionId, group.stop.signal);
    let failure: unknown;
    try {
      for await (const event of events) {
        try {
          await handle(group, event);
        } catch (err) {
          // A failed re-read ends every stream of the connection with it, as it would end each one.
          failure = err;
          for (const watcher of [...group.watchers]) if (watcher.isAttached) core.end(watcher, err);
        }
      }
    } finally {
      // The hub closed (shutdown): the streams end quietly, as their subscriptions would.
      if (!group.stop.signal.aborted) for (const watcher of [...group.watchers]) core.end(watcher, failure);
    }
  };

  /** The events a stream starts with: credential-watch.ts's first sync, from `read`. */
  const firstEvents = (watcher: Watcher, read: SharedRead): { first: CredentialWatchEvent[]; end: Error | undefined } => {
    const { connection, credential } = read;
    const first: CredentialWatchEvent[] = [];
    watcher.lastStatus = connection.status;
    if (!isUsable(connection.status)) first.push({ type: "status", status: connection.status, reason: connection.statusReason });
    if (endsWatch(connection.status)) return { first, end: new ConnectionNotUsableError(connection.id, connection.status) };
    if (credential !== undefined && credential.version > watcher.lastVersion) {
      watcher.lastVersion = credential.version;
      first.push({ type: "credential", credential });
    }
    return { first, end: undefined };
  };

  return {
    async open(connection, afterVersion, sink, ctx) {
      let group = groups.get(connection.id);
      if (group === undefined) {
        group = new Group(core, connection);
        groups.set(connection.id, group);
        void run(group);
      }
      const watcher = new Watcher(group, sink, ctx, afterVersion, deps.auditGroupOf?.(ctx), deps.keyOf?.(ctx));
      group.watchers.add(watcher);
      count += 1;
      ctx.signal.addEventListener("abort", watcher, { once: true });
      if (ctx.signal.aborted) core.end(watcher, undefined);
      const read = await deps.watch.read(connection.tenantId, connection.id, 0);
      const { first, end } = firstEvents(watcher, read);
      if (isUsable(read.connection.status)) await deps.engine.keepFresh(read.connection);
      return { watcher, first, end };
    },

    attach(fanoutWatcher) {
      const watcher = fanoutWatcher as Watcher;
      if (watcher.isClosed) return watcher.endError === undefined ? Promise.resolve() : Promise.reject(watcher.endError);
      const ended = new Promise<void>((resolve, reject) => {
        watcher.settle = (err) => (err === undefined ? resolve() : reject(err));
      });
      watcher.isAttached = true;
      if (watcher.missed) {
        // Something happened between the first read and now: re-read for this stream alone.
        watcher.missed = false;
        deps.watch
          .read(watcher.group.tenantId, watcher.connectionId, 0)
          .then((read) => deliverStep([watcher], new Frames(read)))
          .catch((err: unknown) => core.end(watcher, err));
      }
      return ended;
    },

    leave(watcher) {
      core.end(watcher as Watcher, undefined);
    },

    watcherCount: () => count,
    groupCount: () => groups.size,
  };
}
