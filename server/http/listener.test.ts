import assert from "node:assert/strict";
import { once } from "node:events";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import type { TestContext } from "node:test";
import { test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { pino } from "pino";
import { eventually } from "../../test/support/wait.ts";
import type { Listener, ListenerLogger, ListenerOptions, ListenerRequestHandler } from "./listener.ts";
import { createListener } from "./listener.ts";

const HOST = "127.0.0.1";
const H2_PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

type AnyResponse = http.ServerResponse | http2.Http2ServerResponse;

/** Hooks the test handler calls, so a test can hold or end a response. */
interface HandlerHooks {
  onSlow?: () => void;
  /** After "/slow" wrote its answer (to a socket that may be gone). */
  onSlowAnswered?: () => void;
  onStream?: (res: AnyResponse) => void;
}

function sendJson(res: AnyResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader("content-type", "application/json");
  (res as http.ServerResponse).end(JSON.stringify(body));
}

/** "/slow" answers after 300 ms, "/stream" never ends on its own, "/throw" throws. */
function testHandler(hooks: HandlerHooks = {}): ListenerRequestHandler {
  return (req, res) => {
    const body = { httpVersion: req.httpVersion, url: req.url };
    switch (req.url) {
      case "/slow":
        hooks.onSlow?.();
        setTimeout(() => {
          sendJson(res, 200, body);
          hooks.onSlowAnswered?.();
        }, 300);
        return;
      case "/stream":
        res.statusCode = 200;
        res.setHeader("content-type", "text/plain");
        (res as http.ServerResponse).write("first\n");
        hooks.onStream?.(res);
        return;
      case "/throw":
        throw new Error("boom");
      default:
        sendJson(res, 200, body);
    }
  };
}

/** A logger that keeps entries by level, to assert nothing reached `error`. */
function recordingLogger(): ListenerLogger & { entries: { level: string; msg?: string }[] } {
  const entries: { level: string; msg?: string }[] = [];
  const at = (level: string) => (_obj: object, msg?: string) => void entries.push({ level, msg });
  return { entries, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

async function start(t: TestContext, options: Partial<ListenerOptions> = {}): Promise<{ listener: Listener; port: number }> {
  const listener = createListener({ handler: testHandler(), ...options });
  const { port } = await listener.listen(0, HOST);
  t.after(() => listener.close({ graceMs: 100 }));
  return { listener, port };
}

/** Sends bytes over a raw socket and collects everything until the server closes it. */
async function rawExchange(port: number, chunks: (string | Buffer)[], gapMs = 0): Promise<string> {
  const socket = net.connect(port, HOST);
  socket.setNoDelay(true);
  let received = "";
  socket.on("data", (d: Buffer) => (received += d.toString("latin1")));
  socket.on("error", () => {});
  // Not events.once: it rejects on "error", and a server that closes while we still write may
  // reset the connection (ECONNRESET) after its answer arrived.
  const closed = new Promise((resolve) => socket.on("close", resolve));
  await once(socket, "connect");
  for (const chunk of chunks) {
    // Stop writing once the server answered, so its close does not race our next write.
    if (socket.destroyed || received !== "") break;
    socket.write(chunk);
    if (gapMs > 0) await delay(gapMs);
  }
  await closed;
  return received;
}

function h2Get(session: http2.ClientHttp2Session, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":path": path });
    let status = 0;
    let body = "";
    stream.on("response", (headers) => (status = Number(headers[":status"])));
    stream.setEncoding("utf8");
    stream.on("data", (d: string) => (body += d));
    stream.on("end", () => resolve({ status, body }));
    stream.on("error", reject);
  });
}

function h1Get(
  port: number,
  path: string,
  agent?: http.Agent,
): Promise<{ res: http.IncomingMessage; body: string; reusedSocket: boolean; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: HOST, port, path, agent }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ res, body, reusedSocket: req.reusedSocket, socket: req.socket! }));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
}

function signal(): { promise: Promise<void>; fire: () => void } {
  let fire = () => {};
  const promise = new Promise<void>((resolve) => (fire = resolve));
  return { promise, fire };
}

/** Rejects after `ms`, so "resolves quickly" is asserted without tight timing. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    delay(ms, undefined, { ref: false }).then(() => {
      throw new Error(`${what} did not settle within ${ms} ms`);
    }),
  ]);
}

test("HTTP/1.1 via fetch and via http.request with keep-alive reach the handler", async (t) => {
  const { port } = await start(t);
  const viaFetch = await fetch(`http://${HOST}:${port}/fetched`);
  assert.equal(viaFetch.status, 200);
  assert.deepEqual(await viaFetch.json(), { httpVersion: "1.1", url: "/fetched" });

  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const first = await h1Get(port, "/one", agent);
  const second = await h1Get(port, "/two", agent);
  assert.deepEqual(JSON.parse(first.body), { httpVersion: "1.1", url: "/one" });
  assert.deepEqual(JSON.parse(second.body), { httpVersion: "1.1", url: "/two" });
  assert.equal(second.reusedSocket, true, "second request should reuse the keep-alive socket");
});

test("HTTP/2 prior knowledge: two concurrent streams on one session", async (t) => {
  const { port } = await start(t);
  const session = http2.connect(`http://${HOST}:${port}`);
  t.after(() => session.destroy());
  const [a, b] = await Promise.all([h2Get(session, "/a"), h2Get(session, "/b")]);
  assert.deepEqual(JSON.parse(a.body), { httpVersion: "2.0", url: "/a" });
  assert.deepEqual(JSON.parse(b.body), { httpVersion: "2.0", url: "/b" });
  assert.equal(a.status, 200);
});

test("HTTP/2: the server announces at most 100 concurrent streams per session by default", async (t) => {
  const { port } = await start(t);
  const session = http2.connect(`http://${HOST}:${port}`);
  t.after(() => session.destroy());
  const [settings] = (await once(session, "remoteSettings")) as [http2.Settings];
  assert.equal(settings.maxConcurrentStreams, 100);
});

test("an HTTP/1.1 request split into 1-byte writes is served", async (t) => {
  const { port } = await start(t);
  const request = `GET /split HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`;
  const response = await rawExchange(port, [...request], 2);
  assert.match(response, /^HTTP\/1\.1 200 /);
  assert.ok(response.includes('"url":"/split"'), response);
});

test("an HTTP/2 preface split into 1-byte writes is served", async (t) => {
  const { port } = await start(t);
  // A proxy that forwards the client's first bytes one per write, with gaps, so the listener
  // really sees "P", "R", "I", ... arrive separately.
  const proxy = net.createServer((client) => {
    const upstream = net.connect(port, HOST);
    upstream.setNoDelay(true);
    client.on("error", () => {});
    upstream.on("error", () => {});
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    upstream.pipe(client);
    let queue = Promise.resolve();
    let trickled = 0;
    client.on("data", (chunk: Buffer) => {
      queue = queue.then(async () => {
        for (const byte of chunk) {
          if (trickled++ >= H2_PREFACE.length) {
            upstream.write(Buffer.of(byte));
            continue;
          }
          // Each preface byte is flushed, then the event loop turns (the listener's read runs in
          // this process) before the next one is written.
          await new Promise<void>((resolve) => upstream.write(Buffer.of(byte), () => resolve()));
          await new Promise((resolve) => setImmediate(resolve));
        }
      });
    });
  });
  proxy.listen(0, HOST);
  await once(proxy, "listening");
  t.after(() => new Promise((resolve) => proxy.close(resolve)));
  const { port: proxyPort } = proxy.address() as net.AddressInfo;

  const session = http2.connect(`http://${HOST}:${proxyPort}`);
  t.after(() => session.destroy());
  const { status, body } = await h2Get(session, "/split-h2");
  assert.equal(status, 200);
  assert.deepEqual(JSON.parse(body), { httpVersion: "2.0", url: "/split-h2" });
});

test("a socket that sends nothing is closed after firstByteTimeoutMs", async (t) => {
  const { port } = await start(t, { firstByteTimeoutMs: 200 });
  const startedAt = Date.now();
  const response = await within(rawExchange(port, []), 5_000, "silent socket");
  assert.equal(response, "");
  assert.ok(Date.now() - startedAt >= 150, "closed before the first-byte timeout");
  assert.equal((await fetch(`http://${HOST}:${port}/after`)).status, 200);
});

test("an HTTP/1.1 header block that never ends gets 408 after headersTimeoutMs", async (t) => {
  const { port } = await start(t, { headersTimeoutMs: 300, requestTimeoutMs: 1_000 });
  // Slowloris: a header line every 100 ms keeps the socket busy but never finishes the block.
  const lines = ["GET / HTTP/1.1\r\nHost: x\r\n", ...Array.from({ length: 40 }, (_, i) => `X-${i}: y\r\n`)];
  const startedAt = Date.now();
  const response = await within(rawExchange(port, lines, 100), 3_500, "slow header block");
  assert.match(response, /^HTTP\/1\.1 408 /);
  assert.ok(Date.now() - startedAt >= 250, "timed out before headersTimeoutMs");
});

test("bytes that are neither HTTP/1 nor an h2 preface get 400 and the server keeps serving", async (t) => {
  const logger = recordingLogger();
  const { port } = await start(t, { logger });
  const garbage = Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, 0x0d, 0x0a]);
  assert.match(await rawExchange(port, [garbage]), /^HTTP\/1\.1 400 /);
  // Starts like the h2 preface, then isn't one: the h2 session fails, the socket is dropped.
  await within(rawExchange(port, ["PRI garbage that is not a preface\r\n\r\n"]), 5_000, "bad h2 preface");
  assert.equal((await fetch(`http://${HOST}:${port}/still`)).status, 200);
  assert.deepEqual(
    logger.entries.filter((e) => e.level === "error"),
    [],
    "peer faults are not errors",
  );
});

test("a throwing handler answers 500 and the server keeps serving", async (t) => {
  const { port } = await start(t, { logger: pino({ level: "silent" }) });
  assert.equal((await fetch(`http://${HOST}:${port}/throw`)).status, 500);
  const session = http2.connect(`http://${HOST}:${port}`);
  t.after(() => session.destroy());
  assert.equal((await h2Get(session, "/throw")).status, 500);
  assert.equal((await h2Get(session, "/ok")).status, 200);
});

test("clients resetting mid-request do not crash the listener", async (t) => {
  const slow = signal();
  const answered = signal();
  const { port } = await start(t, { handler: testHandler({ onSlow: slow.fire, onSlowAnswered: answered.fire }) });
  const req = http.get({ host: HOST, port, path: "/slow" });
  req.on("error", () => {});
  await slow.promise;
  req.destroy();
  const session = http2.connect(`http://${HOST}:${port}`);
  const stream = session.request({ ":path": "/stream" });
  stream.on("error", () => {});
  await once(stream, "response");
  session.destroy();
  await within(answered.promise, 5_000, "the slow handler's write to a gone socket");
  assert.equal((await fetch(`http://${HOST}:${port}/alive`)).status, 200);
});

test("close: in-flight requests finish, new connections are refused", async (t) => {
  const slowStarted = signal();
  let slowCount = 0;
  const onSlow = () => ++slowCount === 2 && slowStarted.fire();
  const listener = createListener({ handler: testHandler({ onSlow }) });
  const { port } = await listener.listen(0, HOST);
  t.after(() => listener.close({ graceMs: 100 }));

  const h1Slow = h1Get(port, "/slow");
  const session = http2.connect(`http://${HOST}:${port}`);
  t.after(() => session.destroy());
  const goaway = once(session, "goaway");
  const h2Slow = h2Get(session, "/slow");
  await slowStarted.promise;

  const closed = listener.close({ graceMs: 5_000 });
  let isClosed = false;
  void closed.then(() => (isClosed = true));
  const refused = net.connect(port, HOST);
  const [err] = (await once(refused, "error")) as [NodeJS.ErrnoException];
  assert.equal(err.code, "ECONNREFUSED");

  const h1 = await h1Slow;
  assert.equal(h1.res.statusCode, 200);
  assert.equal(h1.res.headers.connection, "close", "a draining h1 response ends keep-alive");
  const h2 = await h2Slow;
  assert.equal(h2.status, 200);
  await goaway;
  assert.equal(isClosed, false, "close resolved before the in-flight requests finished");
  await within(closed, 5_000, "close");
  assert.equal(listener.address(), null);
});

test("close: idle keep-alive h1 connections and idle h2 sessions do not delay it", async (t) => {
  const { listener, port } = await start(t, { keepAliveTimeoutMs: 60_000 });
  const agent = new http.Agent({ keepAlive: true });
  t.after(() => agent.destroy());
  const { socket: idleSocket } = await h1Get(port, "/idle", agent);
  const session = http2.connect(`http://${HOST}:${port}`);
  t.after(() => session.destroy());
  await h2Get(session, "/idle");

  // Connected but silent: no request yet, so nothing to wait for (firstByteTimeoutMs is 10 s).
  const silent = net.connect(port, HOST);
  silent.on("error", () => {});
  await once(silent, "connect");

  const socketClosed = once(idleSocket, "close");
  const sessionClosed = once(session, "close");
  const silentClosed = once(silent, "close");
  await within(listener.close({ graceMs: 30_000 }), 5_000, "close with idle clients");
  await within(Promise.all([socketClosed, sessionClosed, silentClosed]), 2_000, "client side close");
});

test("close: a keep-alive h1 response that ends during the drain frees its connection", async (t) => {
  const open: AnyResponse[] = [];
  const { listener, port } = await start(t, {
    keepAliveTimeoutMs: 60_000,
    handler: testHandler({ onStream: (res) => open.push(res) }),
    // Ends the stream a little after draining began, when its headers (keep-alive) are long gone.
    onBeforeClose: () =>
      void setTimeout(
        () =>
          open.forEach((res) => {
            res.end();
          }),
        100,
      ),
  });
  const agent = new http.Agent({ keepAlive: true });
  t.after(() => agent.destroy());
  const response = h1Get(port, "/stream", agent);
  await eventually(() => open.length > 0, 10_000, "a request held open");

  await within(listener.close({ graceMs: 30_000 }), 5_000, "close after the stream ended");
  const { res, body } = await response;
  assert.equal(res.headers.connection, "keep-alive");
  assert.equal(body, "first\n");
});

test("close: a never-ending stream is destroyed after graceMs", async (t) => {
  const streaming = signal();
  const h1Streaming = signal();
  let streams = 0;
  const onStream = () => (++streams === 1 ? streaming.fire() : h1Streaming.fire());
  const { listener, port } = await start(t, { handler: testHandler({ onStream }) });
  const session = http2.connect(`http://${HOST}:${port}`);
  t.after(() => session.destroy());
  session.on("error", () => {});
  const h2Stream = session.request({ ":path": "/stream" });
  const h2Ended = new Promise((resolve) => {
    h2Stream.on("error", () => resolve("error"));
    h2Stream.on("close", () => resolve(h2Stream.rstCode));
  });
  h2Stream.resume();
  await streaming.promise;

  const h1Ended = new Promise<string>((resolve) => {
    const req = http.get({ host: HOST, port, path: "/stream" }, (res) => {
      res.resume();
      res.on("end", () => resolve("complete"));
      res.on("aborted", () => resolve("aborted"));
      res.on("error", () => resolve("aborted"));
    });
    req.on("error", () => resolve("aborted"));
  });
  await within(h1Streaming.promise, 5_000, "the HTTP/1.1 stream open");

  const startedAt = Date.now();
  await within(listener.close({ graceMs: 300 }), 5_000, "close with an endless stream");
  assert.ok(Date.now() - startedAt >= 250, "close did not wait for the grace period");
  assert.equal(await h1Ended, "aborted");
  assert.notEqual(await h2Ended, http2.constants.NGHTTP2_NO_ERROR, "h2 stream ended cleanly");
});

test("close: onBeforeClose can end long-lived streams so close needs no grace", async (t) => {
  const open: AnyResponse[] = [];
  const order: string[] = [];
  const listener = createListener({
    handler: testHandler({ onStream: (res) => open.push(res) }),
    onBeforeClose: async () => {
      order.push("hook");
      for (const res of open) (res as http.ServerResponse).end("last\n");
    },
  });
  const { port } = await listener.listen(0, HOST);
  t.after(() => listener.close());
  const session = http2.connect(`http://${HOST}:${port}`);
  t.after(() => session.destroy());
  session.on("goaway", () => order.push("goaway"));
  const stream = h2Get(session, "/stream");
  await eventually(() => open.length > 0, 10_000, "a request held open");

  await within(listener.close({ graceMs: 30_000 }), 5_000, "close after the hook ended streams");
  assert.deepEqual(await stream, { status: 200, body: "first\nlast\n" });
  assert.equal(order[0], "hook");
});

test("options and lifecycle misuse are rejected", async (t) => {
  assert.throws(() => createListener({ handler: testHandler(), headersTimeoutMs: 2_000, requestTimeoutMs: 1_000 }), RangeError);
  const { listener, port } = await start(t);
  assert.ok(port > 0);
  assert.deepEqual(listener.address(), { port, host: HOST });
  await assert.rejects(listener.listen(0, HOST), /already listening/);
  const occupied = createListener({ handler: testHandler() });
  await assert.rejects(occupied.listen(port, HOST), { code: "EADDRINUSE" });
  await occupied.close();
  await listener.close();
  await assert.rejects(listener.listen(0, HOST), /closed/);
});
