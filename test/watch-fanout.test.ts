/**
 * Issue 14 §3: WatchCredentials streams on the wire are served by the encode-once fan-out
 * (server/services/watch-fanout.ts) after their first message, over gRPC, gRPC-Web and Connect,
 * binary and JSON, HTTP/2 and HTTP/1.1, with connect-es clients: every stream gets each new version
 * exactly once and decodes it; a revoked connection ends every stream with the same error
 * (FailedPrecondition, ErrorInfo CONNECTION_REVOKED) after a status event; a deadline ends a stream
 * in the fan-out with DeadlineExceeded; a cancelled stream leaves the fan-out.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Client, Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { ConnectionService } from "../gen/nexus/v1/connections_pb.ts";
import { ErrorInfoSchema, ErrorReason } from "../gen/nexus/v1/errors_pb.ts";
import { TokenService, type WatchCredentialsResponse } from "../gen/nexus/v1/tokens_pb.ts";
import { type RefreshRig, startRefreshRig } from "./support/refresh-rig.ts";
import { eventually } from "./support/wait.ts";

describe("test/watch-fanout.test.ts", () => {
  let rig: RefreshRig;
  before(async () => {
    rig = await startRefreshRig({ accessTtlSeconds: 3600 });
  });
  after(() => rig?.close());

  const CLIENTS = [
    { name: "gRPC (h2, proto)", make: (o: TransportOptions) => createGrpcTransport(o) },
    { name: "gRPC (h2, JSON)", make: (o: TransportOptions) => createGrpcTransport({ ...o, useBinaryFormat: false }) },
    { name: "gRPC-Web (HTTP/1.1, proto)", make: (o: TransportOptions) => createGrpcWebTransport({ ...o, httpVersion: "1.1" }) },
    {
      name: "gRPC-Web (h2, JSON)",
      make: (o: TransportOptions) => createGrpcWebTransport({ ...o, httpVersion: "2", useBinaryFormat: false }),
    },
    { name: "Connect (HTTP/1.1, JSON)", make: (o: TransportOptions) => createConnectTransport({ ...o, httpVersion: "1.1" }) },
    {
      name: "Connect (h2, proto)",
      make: (o: TransportOptions) => createConnectTransport({ ...o, httpVersion: "2", useBinaryFormat: true }),
    },
  ] as const;
  type TransportOptions = { baseUrl: string; interceptors: Interceptor[] };

  function transport(make: (o: TransportOptions) => Transport, key: string): Transport {
    const bearer: Interceptor = (next) => (req) => {
      req.header.set("authorization", `Bearer ${key}`);
      return next(req);
    };
    return make({ baseUrl: rig.server.baseUrl, interceptors: [bearer] });
  }

  /** One recorded stream: every event, and how it ended. */
  function watch(tokens: Client<typeof TokenService>, connectionId: string, options: { timeoutMs?: number } = {}) {
    const controller = new AbortController();
    const events: WatchCredentialsResponse["event"][] = [];
    const ended = (async () => {
      try {
        for await (const res of tokens.watchCredentials({ connectionId }, { signal: controller.signal, ...options }))
          events.push(res.event);
        return undefined;
      } catch (error) {
        return ConnectError.from(error);
      }
    })();
    const versions = () => events.flatMap((e) => (e.case === "credential" ? [Number(e.value.version)] : []));
    return { events, versions, ended, stop: () => controller.abort() };
  }

  test("every client gets each new version once through the fan-out; a revoked connection ends all with the same error", async () => {
    const connectionId = await rig.connect();
    const fanout = rig.server.app.watchFanout;
    const before = fanout.watcherCount();
    const streams = CLIENTS.flatMap((c) =>
      [0, 1].map(() => ({ name: c.name, ...watch(createClient(TokenService, transport(c.make, rig.server.agentKey)), connectionId) })),
    );
    try {
      const first = Number((await rig.tokens.getToken({ connectionId })).credential!.version);
      await eventually(() => streams.every((s) => s.versions().includes(first)), 20_000, "first credential on every stream");
      // Past their first message every stream is in the fan-out, none on the per-stream path.
      await eventually(() => fanout.watcherCount() === before + streams.length, 20_000, "all streams in the fan-out");

      const second = Number((await rig.tokens.refreshConnection({ connectionId })).credential!.version);
      const third = Number((await rig.tokens.refreshConnection({ connectionId })).credential!.version);
      assert.ok(third > second && second > first);
      await eventually(() => streams.every((s) => s.versions().includes(third)), 20_000, "third version on every stream");
      for (const s of streams) {
        const versions = s.versions();
        assert.deepEqual(
          versions,
          [...new Set(versions)].sort((a, b) => a - b),
          `${s.name}: each version once, in order`,
        );
        const last = s.events.findLast((e) => e.case === "credential");
        assert.equal(last?.case, "credential");
        assert.equal(last.value.connectionId, connectionId, `${s.name}: the message decodes`);
        assert.ok(Object.keys(last.value.credentials ?? {}).length > 0, `${s.name}: credentials present`);
      }

      const admin = createClient(ConnectionService, createGrpcTransport({ baseUrl: rig.server.baseUrl, interceptors: [adminBearer()] }));
      await admin.revokeConnection({ connectionId });
      const errors = await Promise.all(streams.map((s) => s.ended));
      for (const [i, error] of errors.entries()) {
        const s = streams[i]!;
        assert.ok(error, `${s.name}: ended with an error`);
        assert.equal(error.code, Code.FailedPrecondition, `${s.name}: ${error.message}`);
        assert.deepEqual(
          error.findDetails(ErrorInfoSchema).map((d) => d.reason),
          [ErrorReason.CONNECTION_REVOKED],
          `${s.name}: ErrorInfo in the trailers / end-stream message`,
        );
        assert.equal(s.events.at(-1)?.case, "status", `${s.name}: the status event came before the end`);
      }
      await eventually(() => fanout.watcherCount() === before, 20_000, "the fan-out emptied");
    } finally {
      for (const s of streams) s.stop();
    }
  });

  test("a deadline ends a stream held by the fan-out with DeadlineExceeded; a cancelled one leaves it", async () => {
    const connectionId = await rig.connect();
    const fanout = rig.server.app.watchFanout;
    const before = fanout.watcherCount();
    const tokens = createClient(TokenService, transport(CLIENTS[0].make, rig.server.agentKey));
    const timed = watch(tokens, connectionId, { timeoutMs: 1500 });
    const cancelled = watch(tokens, connectionId);
    try {
      await eventually(() => timed.versions().length > 0 && cancelled.versions().length > 0, 20_000, "first credentials");
      await eventually(() => fanout.watcherCount() === before + 2, 20_000, "both in the fan-out");
      cancelled.stop();
      assert.equal((await cancelled.ended)?.code, Code.Canceled);
      await eventually(() => fanout.watcherCount() === before + 1, 20_000, "the cancelled stream left");
      const error = await timed.ended;
      assert.equal(error?.code, Code.DeadlineExceeded, error?.message);
      await eventually(() => fanout.watcherCount() === before, 20_000, "the timed-out stream left");
    } finally {
      timed.stop();
      cancelled.stop();
    }
  });

  function adminBearer(): Interceptor {
    return (next) => (req) => {
      req.header.set("authorization", `Bearer ${rig.server.adminKey}`);
      return next(req);
    };
  }
});
