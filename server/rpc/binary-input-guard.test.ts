import assert from "node:assert/strict";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalServerRequest } from "@connectrpc/connect/protocol";
import { CheckConnectionRequestSchema } from "../../gen/nexus/v1/connections_pb.ts";
import { binaryFramingOf, checkGetMessage, guardBinaryBody } from "./binary-input-guard.ts";

const valid = toBinary(CheckConnectionRequestSchema, create(CheckConnectionRequestSchema, { connectionId: "conn_1" }));
const envelope = (bytes: Uint8Array, flags = 0) => Buffer.concat([Buffer.from([flags, 0, 0, 0, bytes.length]), bytes]);

async function read(chunks: Uint8Array[], contentType: string, maxBytes = 1024): Promise<Buffer | ConnectError> {
  const req = { method: "POST", url: "/", header: new Headers(), httpVersion: "2", signal: new AbortController().signal, body: (async function* () {
    yield* chunks;
  })() } as UniversalServerRequest;
  const guarded = guardBinaryBody(req, CheckConnectionRequestSchema, binaryFramingOf(contentType)!, maxBytes);
  const out: Uint8Array[] = [];
  try {
    for await (const chunk of guarded.body as AsyncIterable<Uint8Array>) out.push(chunk);
    return Buffer.concat(out);
  } catch (err) {
    return ConnectError.from(err);
  }
}

test("framing follows the content type; JSON is not touched", () => {
  assert.equal(binaryFramingOf("application/proto"), "whole");
  assert.equal(binaryFramingOf("application/grpc"), "enveloped");
  assert.equal(binaryFramingOf("application/grpc-web+proto"), "enveloped");
  assert.equal(binaryFramingOf("application/connect+proto"), "enveloped");
  assert.equal(binaryFramingOf("application/json"), undefined);
  assert.equal(binaryFramingOf("application/grpc+json"), undefined);
  assert.equal(binaryFramingOf(null), undefined);
});

test("valid messages pass unchanged, also split across chunks", async () => {
  assert.deepEqual(await read([valid.subarray(0, 3), valid.subarray(3)], "application/proto"), Buffer.from(valid));
  const framed = envelope(valid);
  assert.deepEqual(await read([framed.subarray(0, 2), framed.subarray(2, 9), framed.subarray(9)], "application/grpc"), framed);
});

test("a protobuf that does not parse, or a compressed flag, is InvalidArgument", async () => {
  const broken = new Uint8Array([0x0a, 0xff, 0xff]);
  for (const [chunks, type] of [[[broken], "application/proto"], [[envelope(broken)], "application/grpc"], [[envelope(valid, 1)], "application/grpc-web"]] as const) {
    const result = await read([...chunks], type);
    assert.ok(result instanceof ConnectError, type);
    assert.equal(result.code, Code.InvalidArgument);
  }
});

test("oversized bodies pass through untouched for connect-es to refuse", async () => {
  const big = new Uint8Array(2_000).fill(0xff);
  assert.equal(((await read([big], "application/proto", 1024)) as Buffer).length, 2_000);
  const header = Buffer.from([0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
  assert.deepEqual(await read([header], "application/grpc", 1024), header);
});

test("Connect GET with encoding=proto is checked too", () => {
  const base64 = Buffer.from(valid).toString("base64url");
  assert.equal(checkGetMessage(`/x?connect=v1&encoding=proto&base64=1&message=${base64}`, CheckConnectionRequestSchema), undefined);
  assert.equal(checkGetMessage(`/x?connect=v1&encoding=proto&base64=1&message=${Buffer.from([0x0a, 0xff]).toString("base64url")}`, CheckConnectionRequestSchema)?.code, Code.InvalidArgument);
  assert.equal(checkGetMessage("/x?connect=v1&encoding=json&message=%7B", CheckConnectionRequestSchema), undefined, "JSON is connect-es's business");
});
