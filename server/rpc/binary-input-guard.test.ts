import assert from "node:assert/strict";
import { test } from "node:test";
import { create, type DescMessage, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalServerRequest } from "@connectrpc/connect/protocol";
import { CheckConnectionRequestSchema, RequestConnectionRequestSchema } from "../../gen/nexus/v1/connections_pb.ts";
import { ErrorInfoSchema, ErrorReason } from "../../gen/nexus/v1/errors_pb.ts";
import { CreateProviderRequestSchema } from "../../gen/nexus/v1/providers_pb.ts";
import { checkGetMessage, framingOf, guardBody, readWholeJson } from "./binary-input-guard.ts";

const valid = toBinary(CheckConnectionRequestSchema, create(CheckConnectionRequestSchema, { connectionId: "conn_1" }));
const envelope = (bytes: Uint8Array, flags = 0) => Buffer.concat([Buffer.from([flags, 0, 0, 0, bytes.length]), bytes]);

async function read(
  chunks: Uint8Array[],
  contentType: string,
  maxBytes = 1024,
  input: DescMessage = CheckConnectionRequestSchema,
): Promise<Buffer | ConnectError> {
  const req = {
    method: "POST",
    url: "/",
    header: new Headers(),
    httpVersion: "2",
    signal: new AbortController().signal,
    body: (async function* () {
      yield* chunks;
    })(),
  } as UniversalServerRequest;
  const guarded = guardBody(req, input, framingOf(contentType)!, maxBytes);
  const out: Uint8Array[] = [];
  try {
    for await (const chunk of guarded.body as AsyncIterable<Uint8Array>) out.push(chunk);
    return Buffer.concat(out);
  } catch (err) {
    return ConnectError.from(err);
  }
}

test("framing and codec follow the content type", () => {
  assert.deepEqual(framingOf("application/proto"), { framing: "whole", codec: "proto" });
  assert.deepEqual(framingOf("application/json; charset=utf-8"), { framing: "whole", codec: "json" });
  assert.deepEqual(framingOf("application/grpc"), { framing: "enveloped", codec: "proto" });
  assert.deepEqual(framingOf("application/grpc-web+proto"), { framing: "enveloped", codec: "proto" });
  assert.deepEqual(framingOf("application/connect+proto"), { framing: "enveloped", codec: "proto" });
  assert.deepEqual(framingOf("application/grpc+json"), { framing: "enveloped", codec: "json" });
  assert.deepEqual(framingOf("application/connect+json"), { framing: "enveloped", codec: "json" });
  assert.equal(framingOf("application/connect"), undefined);
  assert.equal(framingOf("text/plain"), undefined);
  assert.equal(framingOf(null), undefined);
});

const reasonOf = (err: ConnectError) => err.findDetails(ErrorInfoSchema)[0];

test("reserved envelope flag bits are a protocol error, never a message", async () => {
  for (const flags of [0x02, 0x80, 0x04, 0x81, 0xff]) {
    for (const type of ["application/grpc", "application/grpc-web", "application/connect+proto", "application/connect+json"]) {
      const body = type.endsWith("json") ? Buffer.from('{"connection_id":"c"}') : valid;
      const result = await read([envelope(body, flags)], type);
      assert.ok(result instanceof ConnectError, `${type} flags ${flags}`);
      assert.equal(result.code, Code.InvalidArgument);
      assert.equal(reasonOf(result)?.reason, ErrorReason.MALFORMED_REQUEST);
      assert.match(result.rawMessage, /envelope flags/);
    }
  }
});

test("JSON that is not UTF-8 is refused naming the field, whole or enveloped", async () => {
  const bad = Buffer.concat([Buffer.from('{"userId":"a'), Buffer.from([0xff, 0xfe]), Buffer.from('","provider_name":"p"}')]);
  for (const [chunks, type] of [
    [[bad], "application/json"],
    [[envelope(bad)], "application/connect+json"],
    [[envelope(bad)], "application/grpc+json"],
  ] as const) {
    const result = await read([...chunks], type, 1024, RequestConnectionRequestSchema);
    assert.ok(result instanceof ConnectError, type);
    assert.equal(result.code, Code.InvalidArgument);
    assert.deepEqual([reasonOf(result)?.reason, reasonOf(result)?.field], [ErrorReason.INVALID_FIELD, "user_id"], type);
  }
  const proto = Buffer.from([0x0a, 3, 0x61, 0xff, 0xfe, 0x12, 1, 0x70]); // user_id "a\xff\xfe", provider_name "p"
  for (const [chunks, type] of [
    [[proto], "application/proto"],
    [[envelope(proto)], "application/grpc"],
    [[envelope(proto)], "application/grpc-web"],
  ] as const) {
    const result = await read([...chunks], type, 1024, RequestConnectionRequestSchema);
    assert.ok(result instanceof ConnectError, type);
    assert.deepEqual(
      [result.code, reasonOf(result)?.reason, reasonOf(result)?.field],
      [Code.InvalidArgument, ErrorReason.INVALID_FIELD, "user_id"],
      type,
    );
  }
  const unknown = await read([Buffer.from('{"conection_id":"x"}')], "application/json");
  assert.ok(unknown instanceof ConnectError);
  assert.deepEqual(
    [reasonOf(unknown)?.reason, reasonOf(unknown)?.field],
    [ErrorReason.INVALID_FIELD, "conection_id"],
    "an unknown field is named, as REST names it",
  );
  const nested = await read([Buffer.from('{"provider":{"name":"p","colour":1}}')], "application/json", 1024, CreateProviderRequestSchema);
  assert.ok(nested instanceof ConnectError);
  assert.deepEqual([reasonOf(nested)?.reason, reasonOf(nested)?.field], [ErrorReason.INVALID_FIELD, "provider.colour"]);
  const wrongType = await read([Buffer.from('{"connection_id":42}')], "application/json");
  assert.ok(wrongType instanceof ConnectError);
  assert.deepEqual([reasonOf(wrongType)?.reason, reasonOf(wrongType)?.field], [ErrorReason.INVALID_FIELD, "connection_id"]);
});

test("an incomplete envelope is malformed", async () => {
  const framed = envelope(valid);
  const result = await read([framed.subarray(0, framed.length - 1)], "application/grpc");
  assert.ok(result instanceof ConnectError);
  assert.equal(reasonOf(result)?.reason, ErrorReason.MALFORMED_REQUEST);
});

test("valid messages pass unchanged, also split across chunks", async () => {
  assert.deepEqual(await read([valid.subarray(0, 3), valid.subarray(3)], "application/proto"), Buffer.from(valid));
  const framed = envelope(valid);
  assert.deepEqual(await read([framed.subarray(0, 2), framed.subarray(2, 9), framed.subarray(9)], "application/grpc"), framed);
});

test("a protobuf that does not parse, or a compressed flag, is InvalidArgument", async () => {
  const broken = new Uint8Array([0x0a, 0xff, 0xff]);
  for (const [chunks, type] of [
    [[broken], "application/proto"],
    [[envelope(broken)], "application/grpc"],
    [[envelope(valid, 1)], "application/grpc-web"],
  ] as const) {
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
  assert.equal(
    checkGetMessage(
      `/x?connect=v1&encoding=proto&base64=1&message=${Buffer.from([0x0a, 0xff]).toString("base64url")}`,
      CheckConnectionRequestSchema,
    )?.code,
    Code.InvalidArgument,
  );
  assert.equal(
    checkGetMessage(`/x?connect=v1&encoding=json&message=${encodeURIComponent('{"connection_id":"c"}')}`, CheckConnectionRequestSchema),
    undefined,
  );
  const badUtf8 = checkGetMessage(
    "/x?connect=v1&encoding=json&message=%7B%22connection_id%22%3A%22%FF%FE%22%7D",
    CheckConnectionRequestSchema,
  );
  assert.equal(badUtf8?.code, Code.InvalidArgument);
  assert.equal(badUtf8 && reasonOf(badUtf8)?.field, "connection_id");
  assert.equal(checkGetMessage("/x?connect=v1&encoding=json&message=%7B", CheckConnectionRequestSchema)?.code, Code.InvalidArgument);
});

test("readWholeJson parses a Connect unary JSON body once and refuses exactly what guardBody refuses", async () => {
  const stream = (chunks: Uint8Array[]) =>
    (async function* () {
      yield* chunks;
    })();
  const badUtf8 = Buffer.concat([Buffer.from('{"userId":"a'), Buffer.from([0xff]), Buffer.from('","provider_name":"p"}')]);
  const cases: [string, Uint8Array[], DescMessage][] = [
    ["bad UTF-8", [badUtf8], RequestConnectionRequestSchema],
    ["unknown field", [Buffer.from('{"connection_id":"c","colour":1}')], CheckConnectionRequestSchema],
    ["not JSON", [Buffer.from('{"connection_id":')], CheckConnectionRequestSchema],
    ["wrong type", [Buffer.from('{"connection_id":42}')], CheckConnectionRequestSchema],
  ];
  for (const [name, chunks, input] of cases) {
    const expected = await read(chunks, "application/json", 1024, input);
    assert.ok(expected instanceof ConnectError, name);
    const refused = await readWholeJson(stream(chunks), input, 1024).then(
      () => assert.fail(`${name}: accepted`),
      (err: unknown) => ConnectError.from(err),
    );
    assert.equal(refused.code, expected.code, name);
    assert.equal(refused.rawMessage, expected.rawMessage, name);
    assert.deepEqual(reasonOf(refused), reasonOf(expected), name);
  }
  // Valid: the parsed JSON, from chunks split anywhere.
  const text = '{"connection_id":"conn_1"}';
  assert.deepEqual(
    await readWholeJson(stream([Buffer.from(text.slice(0, 5)), Buffer.from(text.slice(5))]), CheckConnectionRequestSchema, 1024),
    {
      json: { connection_id: "conn_1" },
    },
  );
  // Empty and oversized bodies are connect-es's business: handed on as read.
  assert.deepEqual(await readWholeJson(stream([]), CheckConnectionRequestSchema, 1024), { bytes: [] });
  const big = Buffer.from(`{"connection_id":"${"x".repeat(64)}"}`);
  assert.deepEqual(await readWholeJson(stream([big]), CheckConnectionRequestSchema, 16), { bytes: [big] });
});
