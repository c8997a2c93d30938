/**
 * The listener's bounds on idle and dead connections and on how many may be open, over real
 * sockets: h2c sessions without a stream are closed with GOAWAY, a peer that stops acking PINGs
 * loses its session, and connections past the total or per-address cap are refused.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import * as http2 from "node:http2";
import * as net from "node:net";
import type { TestContext } from "node:test";
import { test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { eventually } from "../../test/support/wait.ts";
import type { ConnectionCloseReason, ConnectionRefusal, Listener, ListenerLogger, ListenerOptions } from "./listener.ts";
import { createListener } from "./listener.ts";

const HOST = "127.0.0.1";
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const FRAME = { DATA: 0x0, HEADERS: 0x1, SETTINGS: 0x4, PING: 0x6, GOAWAY: 0x7 } as const;

/** One HTTP/2 frame (RFC 9113 §4.1): 24-bit length, type, flags, 31-bit stream id, payload. */
function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header.writeUInt8(type, 3);
  header.writeUInt8(flags, 4);
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

/** The types of the complete frames in what the server sent. */
function frameTypes(bytes: Buffer): number[] {
  const types: number[] = [];
  for (let at = 0; at + 9 <= bytes.length; ) {
    const length = bytes.readUIntBE(at, 3);
    types.push(bytes.readUInt8(at + 3));
    at += 9 + length;
  }
  return types;
}

/** HPACK (RFC 7541) for GET http://x/stream: indexed :method GET (2) and :scheme http (6), literal :path and :authority. */
function getStreamHeaders(): Buffer {
  const literal = (nameIndex: number, value: string) => Buffer.concat([Buffer.of(nameIndex, value.length), Buffer.from(value, "latin1")]);
  return Buffer.concat([Buffer.of(0x82, 0x86), literal(0x04, "/stream"), literal(0x01, "x")]);
}

/** A raw TCP client that records everything it receives. */
async function rawSocket(port: number, localAddress?: string) {
  const socket = net.connect({ port, host: HOST, localAddress });
  let received = Buffer.alloc(0);
  const arrivals: (() => void)[] = [];
  socket.on("data", (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    for (const wake of arrivals.splice(0)) wake();
  });
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  // A refused connection may be reset before "connect" is even reported.
  await Promise.race([once(socket, "connect").catch(() => {}), closed]);
  return {
    socket,
    closed,
    received: () => received,
    /** Resolves once a frame of `type` has arrived. */
    async frameArrived(type: number): Promise<void> {
      while (!frameTypes(received).includes(type)) {
        if (socket.destroyed) throw new Error(`socket closed before frame type ${type}`);
        await Promise.race([new Promise<void>((resolve) => arrivals.push(resolve)), closed]);
      }
    },
  };
}

/** A listener whose /stream response never ends, recording what it refuses and closes. */
async function start(t: TestContext, options: Partial<ListenerOptions> = {}) {
  const refused: ConnectionRefusal[] = [];
  const closedByServer: ConnectionCloseReason[] = [];
  const warnings: string[] = [];
  const logger: ListenerLogger = { debug() {}, info() {}, warn: (_o, msg) => void warnings.push(msg ?? ""), error() {} };
  const listener: Listener = createListener({
    handler: (req, res) => {
      res.statusCode = 200;
      if (req.url === "/stream") (res as http2.Http2ServerResponse).write("first\n");
      else if (req.url === "/upload") req.on("end", () => res.end("ok")).resume();
      else res.end("ok");
    },
    logger,
    onConnectionRefused: (reason) => refused.push(reason),
    onConnectionClosed: (reason) => closedByServer.push(reason),
    ...options,
  });
  const { port } = await listener.listen(0, HOST);
  t.after(() => listener.close({ graceMs: 100 }));
  return { listener, port, refused, closedByServer, warnings };
}

/** An h2c session that has finished its SETTINGS exchange, from `localAddress` if given. */
async function h2Session(t: TestContext, port: number, localAddress?: string): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(`http://${HOST}:${port}`, {
    createConnection: () => net.connect({ port, host: HOST, localAddress }),
  });
  session.on("error", () => {});
  t.after(() => session.destroy());
  await once(session, "connect");
  return session;
}

async function h2Get(session: http2.ClientHttp2Session, path: string): Promise<number> {
  const stream = session.request({ ":path": path });
  const [headers] = (await once(stream, "response")) as [http2.IncomingHttpHeaders];
  stream.resume();
  return Number(headers[":status"]);
}

test("an h2c socket that sent only the preface is closed with GOAWAY after the idle timeout", async (t) => {
  const { port, closedByServer } = await start(t, { http2IdleTimeoutMs: 200 });
  const client = await rawSocket(port);
  client.socket.write(PREFACE);
  await client.closed;
  const types = frameTypes(client.received());
  assert.equal(types[0], FRAME.SETTINGS, "the server's SETTINGS come first");
  assert.ok(types.includes(FRAME.GOAWAY), `GOAWAY before the close (frames: ${types.join(",")})`);
  assert.deepEqual(closedByServer, ["http2_idle"]);
});

test("an h2c socket that sent preface + SETTINGS and no stream is closed with GOAWAY", async (t) => {
  const { port, closedByServer } = await start(t, { http2IdleTimeoutMs: 200 });
  const client = await rawSocket(port);
  client.socket.write(Buffer.concat([PREFACE, frame(FRAME.SETTINGS, 0, 0)]));
  await client.closed;
  assert.ok(frameTypes(client.received()).includes(FRAME.GOAWAY));
  assert.deepEqual(closedByServer, ["http2_idle"]);
});

test("a session whose last stream ended is closed after the idle timeout, one with an open stream is not", async (t) => {
  const { port, closedByServer } = await start(t, { http2IdleTimeoutMs: 200, http2PingIntervalMs: 50, http2PingTimeoutMs: 2_000 });
  const idle = await h2Session(t, port);
  assert.equal(await h2Get(idle, "/once"), 200);
  const busy = await h2Session(t, port);
  const stream = busy.request({ ":path": "/stream" });
  stream.on("error", () => {});
  await once(stream, "response");
  await once(idle, "goaway");
  await once(idle, "close");
  // The busy session is PINGed (and answers) while the idle one is closed; after several PINGs,
  // well past the idle timeout, it is still open.
  for (let pings = 0; pings < 6; pings++) await once(busy, "ping");
  assert.equal(busy.closed || busy.destroyed, false);
  assert.deepEqual(closedByServer, ["http2_idle"]);
});

test("a peer holding a stream that stops acking PINGs loses its session", async (t) => {
  const { port, closedByServer } = await start(t, { http2IdleTimeoutMs: 60_000, http2PingIntervalMs: 100, http2PingTimeoutMs: 300 });
  const client = await rawSocket(port);
  client.socket.write(Buffer.concat([PREFACE, frame(FRAME.SETTINGS, 0, 0)]));
  await client.frameArrived(FRAME.SETTINGS);
  // Ack the server's SETTINGS, open stream 1 (END_HEADERS | END_STREAM), then go silent.
  client.socket.write(Buffer.concat([frame(FRAME.SETTINGS, 0x1, 0), frame(FRAME.HEADERS, 0x5, 1, getStreamHeaders())]));
  await client.frameArrived(FRAME.DATA);
  await client.closed;
  const types = frameTypes(client.received());
  assert.ok(types.includes(FRAME.HEADERS), "the stream was answered");
  assert.ok(types.includes(FRAME.PING), "the server PINGed before giving up");
  assert.deepEqual(closedByServer, ["http2_ping_timeout"]);
});

test("past maxConnections a new connection is refused before any byte; a freed slot admits again", async (t) => {
  const { listener, port, refused, warnings } = await start(t, { maxConnections: 2 });
  const first = await h2Session(t, port);
  await h2Session(t, port);
  for (let i = 0; i < 2; i++) {
    const extra = await rawSocket(port);
    await extra.closed;
    assert.equal(extra.received().length, 0, "nothing is served to a refused connection");
  }
  assert.deepEqual(refused, ["max_connections", "max_connections"]);
  assert.equal(warnings.filter((w) => w.startsWith("connection refused")).length, 1, "the warning is rate-limited");
  first.close();
  await eventually(() => listener.connections().http2 === 1, 10_000, "the closed session being released", 5);
  assert.equal(await h2Get(await h2Session(t, port), "/again"), 200);
});

test("past maxConnectionsPerAddress one address is refused, other addresses and exempt proxies are not", async (t) => {
  const { listener, port, refused } = await start(t, {
    maxConnectionsPerAddress: 2,
    isExemptFromPerAddressCap: (address) => address === "127.0.0.3",
  });
  await h2Session(t, port);
  await h2Session(t, port);
  const extra = await rawSocket(port);
  await extra.closed;
  assert.deepEqual(refused, ["max_connections_per_address"]);
  assert.equal(await h2Get(await h2Session(t, port, "127.0.0.2"), "/other-address"), 200);
  for (let i = 0; i < 3; i++) assert.equal(await h2Get(await h2Session(t, port, "127.0.0.3"), "/proxy"), 200);
  assert.deepEqual(refused, ["max_connections_per_address"]);
  assert.deepEqual(listener.connections(), { sniffing: 0, http1: 0, http2: 6 });
});

test("an h2 stream whose request never ends and has no answer is reset; an answered one is not", async (t) => {
  const { port } = await start(t, { headersTimeoutMs: 100, requestTimeoutMs: 200, http2PingIntervalMs: 100 });
  const session = await h2Session(t, port);
  // A request body that never comes: the handler here never answers /upload before the body ends.
  const held = session.request({ ":method": "POST", ":path": "/upload" }, { endStream: false });
  held.on("error", () => {});
  // A bidi-style stream: the request stays open, but the server has answered.
  const answered = session.request({ ":method": "POST", ":path": "/stream" }, { endStream: false });
  answered.on("error", () => {});
  await once(answered, "response");
  await once(held, "close");
  assert.equal(held.rstCode, http2.constants.NGHTTP2_CANCEL);
  // Several PING rounds later, well past the request timeout, the answered stream is still open.
  for (let pings = 0; pings < 4; pings++) await once(session, "ping");
  assert.equal(answered.closed, false);
});
