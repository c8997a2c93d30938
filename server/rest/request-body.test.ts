import assert from "node:assert/strict";
import { once } from "node:events";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as net from "node:net";
import { test } from "node:test";
import type { JsonValue } from "@bufbuild/protobuf";
import { readJsonBody } from "./request-body.ts";

/** A server whose handler answers with what readJsonBody returned; `started` resolves per request. */
async function startServer(t: { after(fn: () => unknown): void }) {
  const started: (() => void)[] = [];
  const server = http.createServer((req, res) => {
    started.shift()?.();
    readJsonBody(req, 1024).then(
      (body: JsonValue | undefined) => res.end(JSON.stringify({ body: body ?? "none" })),
      (err: Error) => res.end(JSON.stringify({ error: err.message })),
    );
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => server.close());
  const { port } = server.address() as AddressInfo;
  const nextRequest = () => new Promise<void>((resolve) => started.push(resolve));
  return { url: `http://127.0.0.1:${port}`, port, nextRequest };
}

test("a GET without a body reads as no body", async (t) => {
  const { url } = await startServer(t);
  const res = await fetch(`${url}/v1/x`);
  assert.deepEqual(await res.json(), { body: "none" });
});

test("a complete POST body is read and parsed", async (t) => {
  const { url } = await startServer(t);
  const res = await fetch(`${url}/v1/x`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"a":1}' });
  assert.deepEqual(await res.json(), { body: { a: 1 } });
});

test("a body that arrives after the handler started is still read", async (t) => {
  const { port, nextRequest } = await startServer(t);
  const handlerStarted = nextRequest();
  const socket = net.connect(port, "127.0.0.1");
  t.after(() => socket.destroy());
  await once(socket, "connect");
  socket.write("POST /v1/x HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 7\r\nconnection: close\r\n\r\n");
  await handlerStarted;
  socket.write('{"b":2}');
  socket.setEncoding("utf8");
  let answer = "";
  socket.on("data", (chunk: string) => {
    answer += chunk;
  });
  await once(socket, "end");
  assert.match(answer, /\{"body":\{"b":2\}\}$/);
});

test("an empty body with any media type reads as no body", async (t) => {
  const { url } = await startServer(t);
  const res = await fetch(`${url}/v1/x`, { method: "POST", headers: { "content-type": "text/plain" }, body: "" });
  assert.deepEqual(await res.json(), { body: "none" });
});
