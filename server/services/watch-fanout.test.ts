/**
 * The fan-out's delivery step with fakes around it (a real hub; the read, sinks, key check and audit
 * recorded): per event and write turn, one audit call per delivery group counting its streams;
 * a refused audit withholds the version from, and ends, exactly the streams it counted; a stream
 * whose key fails its re-check is neither counted nor written.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { createContextValues, type HandlerContext } from "@connectrpc/connect";
import { WatchCredentialsResponseSchema } from "../../gen/nexus/v1/tokens_pb.ts";
import { within } from "../../test/support/wait.ts";
import type { ConnectionRecord } from "../store/store.ts";
import type { UsageCredential } from "../tokens/usage-credential.ts";
import { createWatchHub } from "../watch/watch-hub.ts";
import { createWatchFanout, type FanoutWatcher, type WatchFanoutDeps } from "./watch-fanout.ts";

describe("server/services/watch-fanout.test.ts", () => {
  const connection = { id: "conn_1", tenantId: "t", status: "active", statusReason: null, credentialVersion: 1 } as ConnectionRecord;
  const credentialOf = (version: number): UsageCredential => ({
    connectionId: connection.id,
    strategy: { type: "oauth2" } as UsageCredential["strategy"],
    credentials: { access_token: `at-${version}` },
    expiresAtSeconds: null,
    version,
  });

  interface Stream {
    group: string;
    ctx: HandlerContext;
    versions: number[];
    watcher?: FanoutWatcher;
    ended?: Promise<unknown>;
    /** Resolves at the next credential written to this stream. */
    nextWrite: Promise<void>;
  }

  /** A fan-out over a hub and a fake read, with `streams` (group names) open and attached at version 1. */
  async function rig(groups: string[], deps: Partial<WatchFanoutDeps>) {
    const hub = createWatchHub({ heartbeatMs: 0, now: Date.now });
    let current = credentialOf(1);
    const audits: { group: string; version: number; streams: number }[] = [];
    const groupOf = (ctx: HandlerContext) => (ctx as unknown as { group: string }).group;
    const fanout = createWatchFanout({
      hub,
      watch: { read: async () => ({ connection: { ...connection, credentialVersion: current.version }, credential: current }) },
      engine: { keepFresh: async () => {} },
      assertMayReceive: () => {},
      auditDelivery: (ctx, credential, streams) => audits.push({ group: groupOf(ctx), version: credential.version, streams }),
      auditGroupOf: groupOf,
      ...deps,
    });
    const streams: Stream[] = [];
    for (const group of groups) {
      const controller = new AbortController();
      const ctx = { signal: controller.signal, values: createContextValues(), group } as unknown as HandlerContext;
      let wrote = () => {};
      const stream: Stream = { group, ctx, versions: [], nextWrite: Promise.resolve() };
      const arm = () => {
        stream.nextWrite = new Promise<void>((resolve) => {
          wrote = resolve;
        });
      };
      arm();
      const body = {
        write(chunk: Uint8Array) {
          const message = fromBinary(WatchCredentialsResponseSchema, chunk.subarray(5));
          if (message.event.case === "credential") {
            stream.versions.push(Number(message.event.value.version));
            const done = wrote;
            arm();
            done();
          }
          return true;
        },
        writableNeedDrain: false,
        writableEnded: false,
        destroyed: false,
      };
      const opened = await fanout.open(connection, 0, { codec: "proto", body }, ctx);
      assert.deepEqual(
        opened.first.map((e) => e.type),
        ["credential"],
      );
      stream.watcher = opened.watcher;
      stream.ended = fanout.attach(opened.watcher).then(
        () => undefined,
        (err: unknown) => err,
      );
      streams.push(stream);
    }
    const rotate = (version: number) => {
      current = credentialOf(version);
      hub.publish({ connectionId: connection.id, type: "credential", version });
    };
    const close = () => {
      for (const s of streams) if (s.watcher) fanout.leave(s.watcher);
      hub.close();
    };
    return { fanout, streams, audits, rotate, close };
  }

  test("one audit call per delivery group and write turn, counting its streams; every stream gets the version once", async () => {
    const { streams, audits, rotate, close } = await rig(["a", "a", "b", "a", "b", "a", "a"], { streamsPerTurn: 4 });
    try {
      const written = Promise.all(streams.map((s) => s.nextWrite));
      rotate(2);
      await within(written, 5_000, "version 2 on every stream");
      assert.deepEqual(
        streams.map((s) => s.versions),
        streams.map(() => [2]),
      );
      // Turn 1: a a b a; turn 2: b a a.
      assert.deepEqual(audits, [
        { group: "a", version: 2, streams: 3 },
        { group: "b", version: 2, streams: 1 },
        { group: "b", version: 2, streams: 1 },
        { group: "a", version: 2, streams: 2 },
      ]);
    } finally {
      close();
    }
  });

  test("a refused audit row withholds the version from every stream it counts, and ends them with its error", async () => {
    const refusal = new Error("audit buffer full");
    const { streams, audits, rotate, close } = await rig(["a", "b", "a", "b"], {
      auditDelivery: (ctx, credential, count) => {
        const group = (ctx as unknown as { group: string }).group;
        if (group === "b") throw refusal;
        audits.push({ group, version: credential.version, streams: count });
      },
    });
    try {
      const aWritten = Promise.all(streams.filter((s) => s.group === "a").map((s) => s.nextWrite));
      rotate(2);
      await within(aWritten, 5_000, "version 2 on the a streams");
      for (const s of streams.filter((s) => s.group === "b")) assert.equal(await within(s.ended!, 5_000, "b ended"), refusal);
      assert.deepEqual(
        streams.map((s) => s.versions),
        [[2], [], [2], []],
      );
      assert.deepEqual(audits, [{ group: "a", version: 2, streams: 2 }]);
    } finally {
      close();
    }
  });

  test("a stream whose key fails its re-check ends, and is neither counted nor written", async () => {
    const revoked = new Error("key revoked");
    let revokedCtx: HandlerContext | undefined;
    const { streams, audits, rotate, close } = await rig(["a", "a", "a"], {
      assertMayReceive: (ctx) => {
        if (ctx === revokedCtx) throw revoked;
      },
    });
    try {
      revokedCtx = streams[1]!.ctx;
      const written = Promise.all([streams[0]!.nextWrite, streams[2]!.nextWrite]);
      rotate(2);
      await within(written, 5_000, "version 2 on the other streams");
      assert.equal(await within(streams[1]!.ended!, 5_000, "revoked stream ended"), revoked);
      assert.deepEqual(
        streams.map((s) => s.versions),
        [[2], [], [2]],
      );
      assert.deepEqual(audits, [{ group: "a", version: 2, streams: 2 }]);
    } finally {
      close();
    }
  });

  test("without auditGroupOf every stream is audited on its own", async () => {
    const calls: number[] = [];
    const { streams, rotate, close } = await rig(["a", "a", "a"], {
      auditGroupOf: undefined,
      auditDelivery: (_ctx, _credential, count) => calls.push(count),
    });
    try {
      const written = Promise.all(streams.map((s) => s.nextWrite));
      rotate(2);
      await within(written, 5_000, "version 2 on every stream");
      assert.deepEqual(calls, [1, 1, 1]);
    } finally {
      close();
    }
  });
  test("keyOf: one key check per key and write step (not per stream), every stream still gets the version", async () => {
    const checked: string[] = [];
    const groupOf = (ctx: HandlerContext) => (ctx as unknown as { group: string }).group;
    const { streams, rotate, close } = await rig(["a", "a", "b", "a", "b", "a", "a"], {
      streamsPerTurn: 4,
      keyOf: groupOf,
      assertMayReceive: (ctx) => void checked.push(groupOf(ctx)),
    });
    try {
      const written = Promise.all(streams.map((s) => s.nextWrite));
      rotate(2);
      await within(written, 5_000, "version 2 on every stream");
      assert.deepEqual(
        streams.map((s) => s.versions),
        streams.map(() => [2]),
      );
      // Turn 1: a a b a; turn 2: b a a.
      assert.deepEqual(checked, ["a", "b", "b", "a"]);
    } finally {
      close();
    }
  });

  test("keyOf: a key revoked between write steps withholds the version from its later streams, each ending with its own error", async () => {
    let isRevoked = false;
    const errors: Error[] = [];
    const { streams, audits, rotate, close } = await rig(["a", "a", "a", "a"], {
      streamsPerTurn: 2,
      keyOf: () => "key",
      assertMayReceive: () => {
        if (!isRevoked) return;
        const err = new Error("key revoked");
        errors.push(err);
        throw err;
      },
      auditDelivery: (_ctx, credential, count) => {
        audits.push({ group: "a", version: credential.version, streams: count });
        // Revoked once the first step is written: the next step must check again.
        isRevoked = true;
      },
    });
    try {
      const written = Promise.all([streams[0]!.nextWrite, streams[1]!.nextWrite]);
      rotate(2);
      await within(written, 5_000, "version 2 on the first two streams");
      const ends = await within(Promise.all([streams[2]!.ended!, streams[3]!.ended!]), 5_000, "later streams ended");
      assert.deepEqual(ends, errors);
      assert.equal(errors.length, 2);
      assert.deepEqual(
        streams.map((s) => s.versions),
        [[2], [2], [], []],
      );
      assert.deepEqual(audits, [{ group: "a", version: 2, streams: 2 }]);
    } finally {
      close();
    }
  });
});
