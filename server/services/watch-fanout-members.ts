/**
 * The per-stream and per-connection records of the WatchCredentials fan-out (watch-fanout.ts).
 */
import type { HandlerContext } from "@connectrpc/connect";
import type { ConnectionStatus } from "../domain/connection-status.ts";
import type { RawStreamBody, RawStreamSink } from "../request/context.ts";
import type { ConnectionRecord } from "../store/store.ts";

/** A stream in the fan-out. Opaque to callers. */
export interface FanoutWatcher {
  readonly connectionId: string;
}

/** One stream in the fan-out: its wire, codec, context and what it has seen (no closures). */
export class Watcher implements FanoutWatcher {
  readonly connectionId: string;
  readonly group: Group;
  readonly body: RawStreamBody;
  readonly codec: "proto" | "json";
  readonly ctx: HandlerContext;
  /** Streams with the same group may share one audit row per event (WatchFanoutDeps.auditGroupOf). */
  readonly auditGroup: string | undefined;
  /** Streams with the same value share one key check per step (WatchFanoutDeps.keyOf). */
  readonly keyGroup: string | undefined;
  lastVersion: number;
  lastStatus: ConnectionStatus | undefined = undefined;
  isAttached = false;
  isClosed = false;
  /** An event arrived before the stream was attached: catch up on attach. */
  missed = false;
  settle: ((err: unknown) => void) | undefined = undefined;
  /** Set on leave or abort so settle runs once. */
  endError: unknown = undefined;
  constructor(
    group: Group,
    sink: RawStreamSink,
    ctx: HandlerContext,
    afterVersion: number,
    auditGroup: string | undefined,
    keyGroup: string | undefined,
  ) {
    this.connectionId = group.connectionId;
    this.group = group;
    this.body = sink.body;
    this.codec = sink.codec;
    this.ctx = ctx;
    this.auditGroup = auditGroup;
    this.keyGroup = keyGroup;
    this.lastVersion = afterVersion;
  }
  /** The context's signal aborted (client gone, deadline, key revoked, shutdown). */
  handleEvent(): void {
    this.group.fanout.end(this, undefined);
  }
}

/** The streams of one connection, sharing one hub subscription and one re-read per event. */
export class Group {
  readonly connectionId: string;
  readonly tenantId: string;
  readonly fanout: FanoutCore;
  readonly watchers = new Set<Watcher>();
  readonly stop = new AbortController();
  constructor(fanout: FanoutCore, connection: ConnectionRecord) {
    this.fanout = fanout;
    this.connectionId = connection.id;
    this.tenantId = connection.tenantId;
  }
}

/** What a member needs of the fan-out: ending a stream. */
export interface FanoutCore {
  end(watcher: Watcher, err: unknown): void;
}
