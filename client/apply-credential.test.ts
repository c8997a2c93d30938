// applyCredential at its seam, without a server: each target shape (Request, handshake, metadata)
// comes back as a new, authenticated copy; the input is never changed (a Request's body is still
// readable and sent unchanged); a target a strategy cannot carry is a StrategyError naming no value.
import assert from "node:assert/strict";
import { test } from "node:test";
import { create, type JsonObject, type MessageInitShape } from "@bufbuild/protobuf";
import { type Credential, CredentialSchema, type StrategySchema, StrategyType } from "../gen/nexus/v1/credential_pb.ts";
import { applyCredential } from "./apply-credential.ts";
import { StrategyError } from "./errors.ts";

function credentialOf(strategy: MessageInitShape<typeof StrategySchema>, credentials: JsonObject): Credential {
  return create(CredentialSchema, { connectionId: "conn_1", strategy, credentials, version: 1n });
}
const bearer = credentialOf({ type: StrategyType.OAUTH2 }, { access_token: "at-secret-1" });
const queryKey = credentialOf(
  { type: StrategyType.QUERY_PARAM, config: { case: "queryParam", value: { paramName: "key", credentialField: "api_key" } } },
  { api_key: "k-secret-1" },
);

test("a Request comes back as a new Request with the credential; the original is untouched", async () => {
  const original = new Request("https://api.example.com/v1/items?x=1", {
    method: "POST",
    headers: { "content-type": "application/json", "x-mine": "kept" },
    body: '{"a":1}',
  });
  const applied = await applyCredential(bearer, original);
  assert.notEqual(applied, original);
  assert.equal(applied.headers.get("authorization"), "Bearer at-secret-1");
  assert.equal(applied.headers.get("x-mine"), "kept");
  assert.equal(applied.method, "POST");
  assert.equal(applied.url, "https://api.example.com/v1/items?x=1");
  assert.equal(await applied.text(), '{"a":1}');
  assert.equal(original.headers.get("authorization"), null, "the input's headers are not changed");
  assert.equal(await original.text(), '{"a":1}', "the input's body was read from a clone");
});

test("a GET stays bodiless; the abort signal travels with the copy", async () => {
  const abort = new AbortController();
  const applied = await applyCredential(bearer, new Request("https://api.example.com/", { signal: abort.signal }));
  assert.equal(applied.body, null);
  abort.abort();
  assert.equal(applied.signal.aborted, true);
});

test("a handshake target gets a URL and Headers of its own; the caller's headers are kept", async () => {
  const headers = { "sec-websocket-protocol": "v1" };
  const { url, headers: out } = await applyCredential(queryKey, { url: "wss://stream.example.com/feed?room=2", headers });
  assert.equal(url.searchParams.get("key"), "k-secret-1");
  assert.equal(url.searchParams.get("room"), "2");
  assert.equal(out.get("sec-websocket-protocol"), "v1");
  assert.deepEqual(headers, { "sec-websocket-protocol": "v1" }, "the caller's object is not changed");
});

test("metadata needs the RPC url, gets new Headers, and refuses a strategy it cannot carry", async () => {
  const metadata = new Headers({ "x-trace": "t1" });
  await assert.rejects(applyCredential(bearer, metadata, { url: "" }), TypeError);
  const out = await applyCredential(bearer, metadata, { url: "https://svc.example.com/pkg.Svc/Call" });
  assert.notEqual(out, metadata);
  assert.equal(out.get("authorization"), "Bearer at-secret-1");
  assert.equal(out.get("x-trace"), "t1");
  assert.equal(metadata.get("authorization"), null);
  await assert.rejects(applyCredential(queryKey, new Headers(), { url: "https://svc.example.com/pkg.Svc/Call" }), (err: unknown) => {
    assert.ok(err instanceof StrategyError);
    assert.equal(err.strategy, "query_param");
    assert.ok(!err.message.includes("k-secret-1"), "the message names no value");
    return true;
  });
});

test("a credential without a usable strategy or field is a StrategyError naming the field", async () => {
  const request = new Request("https://api.example.com/");
  await assert.rejects(applyCredential(create(CredentialSchema, { connectionId: "c" }), request), StrategyError);
  await assert.rejects(applyCredential(credentialOf({ type: 99 as StrategyType }, {}), request), StrategyError);
  await assert.rejects(applyCredential(credentialOf({ type: StrategyType.OAUTH2 }, { refresh_token: "rt" }), request), (err: unknown) => {
    assert.ok(err instanceof StrategyError);
    assert.equal(err.field, "access_token");
    return true;
  });
});
