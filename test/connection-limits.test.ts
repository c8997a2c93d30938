/**
 * Bounds on what callers without a key can hold, against the real server: health Watch streams
 * are capped per client address (gRPC and Connect alike, ResourceExhausted with TOO_MANY_STREAMS),
 * connections are capped in total and per address with a metric and a warning, and an h2c socket
 * that only sent the preface is closed with GOAWAY after the configured idle timeout.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import * as http2 from "node:http2";
import * as net from "node:net";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";
import { ErrorInfoSchema, ErrorReason } from "../gen/nexus/v1/errors_pb.ts";
import { metricValue } from "./support/metric-value.ts";
import { startServer, type TestServer } from "./support/start-server.ts";
import { eventually } from "./support/wait.ts";

/** Opens a raw TCP socket; resolves when the server has closed it, with what it sent. */
async function rawSocket(port: number, localAddress: string, send?: Buffer) {
  const socket = net.connect({ port, host: "127.0.0.1", localAddress });
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.on("error", () => {});
  const closed = new Promise<Buffer>((resolve) => socket.on("close", () => resolve(Buffer.concat(chunks))));
  await Promise.race([once(socket, "connect").catch(() => {}), closed]);
  if (send !== undefined && !socket.destroyed) socket.write(send);
  return closed;
}

describe("health Watch streams without a key, per client address", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({
      env: {
        NEXUS_MAX_ANONYMOUS_STREAMS_PER_ADDRESS: "2",
        // The test plays several clients behind one trusted proxy (itself).
        NEXUS_TRUSTED_PROXIES: "127.0.0.1",
      },
    });
  });
  after(() => server.close());

  const healthStreamsOpen = () => metricValue(server.app.registry, "nexus_rpc_streams_open", { service: "grpc.health.v1.Health" });

  /** Opens a Watch as `address` and waits for its first status; resolves with its abort. */
  async function holdWatch(transport: Transport, address: string): Promise<() => void> {
    const abort = new AbortController();
    const stream = createClient(Health, transport).watch(
      { service: "" },
      { signal: abort.signal, headers: { "x-forwarded-for": address } },
    );
    const first = await stream[Symbol.asyncIterator]().next();
    assert.equal(first.done, false);
    return () => abort.abort();
  }

  async function refusal(transport: Transport, address: string): Promise<ConnectError> {
    const err = await holdWatch(transport, address).then(
      (stop) => {
        stop();
        return undefined;
      },
      (e: unknown) => ConnectError.from(e),
    );
    assert.ok(err instanceof ConnectError, `a watch beyond the cap from ${address} was let in`);
    return err;
  }

  test("beyond the cap: resource_exhausted with TOO_MANY_STREAMS over gRPC and Connect; other addresses unaffected", async () => {
    const grpc = createGrpcTransport({ baseUrl: server.baseUrl });
    const connect = createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1" });
    const address = "198.51.100.10";
    const stops = [await holdWatch(grpc, address), await holdWatch(connect, address)];
    try {
      for (const transport of [grpc, connect]) {
        const err = await refusal(transport, address);
        assert.equal(err.code, Code.ResourceExhausted);
        assert.equal(err.findDetails(ErrorInfoSchema)[0]?.reason, ErrorReason.TOO_MANY_STREAMS);
      }
      const otherStop = await holdWatch(grpc, "198.51.100.11");
      otherStop();
      // Check is unary: not a stream, not capped.
      const check = await createClient(Health, grpc).check({ service: "" }, { headers: { "x-forwarded-for": address } });
      assert.equal(check.status, 1);
    } finally {
      for (const stop of stops) stop();
    }
    await eventually(async () => (await healthStreamsOpen()) === 0, 30_000, "the held watches ending");
    const again = await holdWatch(connect, address);
    again();
  });

  test("a key sent to the public Watch does not lift the address cap", async () => {
    const grpc = createGrpcTransport({ baseUrl: server.baseUrl });
    const keyed = createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [server.bearer()] });
    const address = "198.51.100.12";
    const stops = [await holdWatch(grpc, address), await holdWatch(grpc, address)];
    try {
      assert.equal((await refusal(grpc, address)).code, Code.ResourceExhausted);
      // Health is public, but a caller that sends a key is still anonymous to it: the auth
      // interceptor does not verify keys on public methods, so the address cap applies.
      assert.equal((await refusal(keyed, address)).code, Code.ResourceExhausted);
    } finally {
      for (const stop of stops) stop();
    }
    await eventually(async () => (await healthStreamsOpen()) === 0, 30_000, "the held watches ending");
  });
});

describe("connection caps and the HTTP/2 idle timeout", () => {
  let server: TestServer;
  let port: number;
  before(async () => {
    server = await startServer({
      env: { NEXUS_MAX_CONNECTIONS: "4", NEXUS_MAX_CONNECTIONS_PER_ADDRESS: "2", NEXUS_HTTP2_IDLE_TIMEOUT_MS: "1000" },
    });
    port = Number(new URL(server.baseUrl).port);
  });
  after(() => server.close());

  const rejected = (reason: string) => metricValue(server.app.registry, "nexus_connections_rejected_total", { reason });

  test("the N+1th connection per address and in total is refused, counted and warned about", async () => {
    const sessions: http2.ClientHttp2Session[] = [];
    // Each session holds a stream open, so the idle timeout does not close it during the test.
    const open = async (localAddress: string) => {
      const session = http2.connect(server.baseUrl, { createConnection: () => net.connect({ port, host: "127.0.0.1", localAddress }) });
      session.on("error", () => {});
      sessions.push(session);
      const stream = session.request({
        ":method": "POST",
        ":path": "/grpc.health.v1.Health/Watch",
        "content-type": "application/grpc",
        te: "trailers",
      });
      stream.on("error", () => {});
      stream.end(Buffer.of(0, 0, 0, 0, 0));
      await once(stream, "response");
    };
    try {
      await open("127.0.0.1");
      await open("127.0.0.1");
      assert.deepEqual(await rawSocket(port, "127.0.0.1"), Buffer.alloc(0), "a third connection from one address gets nothing");
      assert.equal(await rejected("max_connections_per_address"), 1);
      await open("127.0.0.2");
      await open("127.0.0.2");
      assert.deepEqual(await rawSocket(port, "127.0.0.3"), Buffer.alloc(0), "a fifth connection gets nothing");
      assert.equal(await rejected("max_connections"), 1);
      assert.equal(await metricValue(server.app.registry, "nexus_connections_open", { protocol: "http2" }), 4);
      assert.match(server.logs(), /"reason":"max_connections_per_address".*connection refused: too many open connections/);
      assert.match(server.logs(), /"reason":"max_connections".*connection refused: too many open connections/);
    } finally {
      for (const session of sessions) session.destroy();
    }
    await eventually(
      async () => (await metricValue(server.app.registry, "nexus_connections_open", { protocol: "http2" })) === 0,
      30_000,
      "sessions released",
    );
    const health = await fetch(`${server.baseUrl}/healthz`);
    assert.equal(health.status, 200, "freed slots admit again");
  });

  test("an h2c socket that sent only the preface is closed with GOAWAY after NEXUS_HTTP2_IDLE_TIMEOUT_MS", async () => {
    const received = await rawSocket(port, "127.0.0.4", Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1"));
    const types: number[] = [];
    for (let at = 0; at + 9 <= received.length; at += 9 + received.readUIntBE(at, 3)) types.push(received.readUInt8(at + 3));
    assert.ok(types.includes(0x7), `GOAWAY among the frames (${types.join(",")})`);
    assert.equal(await metricValue(server.app.registry, "nexus_connections_closed_total", { reason: "http2_idle" }), 1);
  });
});
