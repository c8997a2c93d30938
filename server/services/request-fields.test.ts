import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { RequestConnectionRequestSchema } from "../../gen/nexus/v1/connections_pb.ts";
import { CreateProviderRequestSchema } from "../../gen/nexus/v1/providers_pb.ts";
import { InvalidArgumentError } from "../domain/errors.ts";
import { checkMessageText, checkText, jsonUtf8Error, printable } from "./request-fields.ts";

const fieldOf = (fn: () => void): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    assert.ok(err instanceof InvalidArgumentError);
    return err.field;
  }
};

test("checkText refuses control characters, U+FFFD and lone surrogates, and keeps other text", () => {
  for (const bad of ["a\u0000", "\u0001", "a\nb", "\t", "\u007f", "\u0085", "\u009f", "a\ufffd", "\ud800", "x\udc00"]) {
    assert.equal(
      fieldOf(() => checkText("f", bad)),
      "f",
      JSON.stringify(bad),
    );
  }
  for (const good of ["", "conn_1", "Zoë", "東京", "emoji 🙂", "a b", "https://x.example/cb?a=1"]) checkText("f", good);
});

test("checkMessageText names the field: scalars, lists, map keys and values, nested messages", () => {
  const request = (init: Parameters<typeof create<typeof RequestConnectionRequestSchema>>[1]) =>
    create(RequestConnectionRequestSchema, { userId: "u", providerName: "p", ...init });
  assert.equal(
    fieldOf(() => checkMessageText(RequestConnectionRequestSchema, request({}))),
    undefined,
  );
  assert.equal(
    fieldOf(() => checkMessageText(RequestConnectionRequestSchema, request({ userId: "u\u0000" }))),
    "user_id",
  );
  assert.equal(
    fieldOf(() => checkMessageText(RequestConnectionRequestSchema, request({ scopes: ["ok", "b\nad"] }))),
    "scopes",
  );
  assert.equal(
    fieldOf(() => checkMessageText(RequestConnectionRequestSchema, request({ params: { "k\u0001": "v" } }))),
    "params",
  );
  assert.equal(
    fieldOf(() => checkMessageText(RequestConnectionRequestSchema, request({ params: { k: "v\u0000" } }))),
    "params",
  );
  const provider = create(CreateProviderRequestSchema, {
    provider: { name: "p", oauth: { tokenEndpoint: "https://x\u0000", clientSecret: "line1\nline2" } },
  });
  assert.equal(
    fieldOf(() => checkMessageText(CreateProviderRequestSchema, provider)),
    "provider.oauth.token_endpoint",
  );
  const secretOnly = create(CreateProviderRequestSchema, { provider: { name: "p", oauth: { clientSecret: "any\u0001thing" } } });
  assert.equal(
    fieldOf(() => checkMessageText(CreateProviderRequestSchema, secretOnly)),
    undefined,
    "client_secret is free-form",
  );
});

test("jsonUtf8Error names the field holding bytes that are not UTF-8", () => {
  const body = (prefix: string, suffix: string) => Buffer.concat([Buffer.from(prefix), Buffer.from([0xff, 0xfe]), Buffer.from(suffix)]);
  assert.equal(jsonUtf8Error(Buffer.from('{"user_id":"ü"}')), undefined);
  assert.equal(jsonUtf8Error(body('{"user_id":"a', '"}'))?.field, "user_id");
  assert.equal(
    jsonUtf8Error(body('{"userId":"a', '"}'), RequestConnectionRequestSchema)?.field,
    "user_id",
    "JSON names map to proto names",
  );
  assert.equal(jsonUtf8Error(body('{"params":{"k', '":"v"}}'), RequestConnectionRequestSchema)?.field, "params");
  assert.equal(jsonUtf8Error(body("{not json", ""))?.field, "", "not JSON: the body as a whole");
});

test("printable escapes control characters and mends lone surrogates", () => {
  assert.equal(printable("key\u0000name\n"), "key\\u0000name\\u000a");
  assert.equal(printable("a\ud800"), "a\ufffd");
  assert.equal(printable("Zoë 🙂"), "Zoë 🙂");
});
