// The strategy table at its seam: one applier per StrategyType (none for UNSPECIFIED), each one's
// defaults when the strategy leaves fields empty, and refusals that name the field, never its value.
// test/client-strategies.test.ts checks the results against independent verifiers over the wire.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { test } from "node:test";
import { create, type JsonObject, type MessageInitShape } from "@bufbuild/protobuf";
import { type Credential, CredentialSchema, type StrategySchema, StrategyType } from "../../gen/nexus/v1/credential_pb.ts";
import { StrategyError } from "../errors.ts";
import type { RequestParts } from "./applier.ts";
import { applierFor, strategyAppliers } from "./strategy-appliers.ts";

const env = { clock: { now: () => Date.UTC(2024, 0, 2, 3, 4, 5) } };
function credentialOf(strategy: MessageInitShape<typeof StrategySchema>, credentials: JsonObject): Credential {
  return create(CredentialSchema, { connectionId: "conn_1", strategy, credentials, version: 1n });
}
function partsOf(target: RequestParts["target"] = "request", hasBody = true): RequestParts {
  const body = hasBody ? new TextEncoder().encode("payload") : undefined;
  return { method: "POST", url: new URL("https://api.example.com/v1/x?a=1"), headers: new Headers({ "x-mine": "1" }), body, target };
}
async function apply(strategy: MessageInitShape<typeof StrategySchema>, credentials: JsonObject, parts = partsOf()) {
  const credential = credentialOf(strategy, credentials);
  return applierFor(credential)(parts, credential, env);
}
async function refusal(promise: Promise<unknown>): Promise<StrategyError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof StrategyError, String(err));
    return err;
  }
  assert.fail("applied");
}

test("every strategy type but UNSPECIFIED has an applier", () => {
  const known = Object.values(StrategyType).filter((t) => t !== StrategyType.UNSPECIFIED);
  assert.deepEqual(Object.keys(strategyAppliers).map(Number).sort(), known.sort());
  assert.throws(() => applierFor(credentialOf({ type: StrategyType.UNSPECIFIED }, {})), StrategyError);
});

test("header: Authorization and api_key by default; the configured name, field and prefix otherwise", async () => {
  const plain = await apply({ type: StrategyType.HEADER }, { api_key: "k1" });
  assert.equal(plain.headers.get("authorization"), "k1");
  const configured = await apply(
    {
      type: StrategyType.HEADER,
      config: { case: "header", value: { headerName: "X-Key", credentialField: "key", valuePrefix: "Token " } },
    },
    { key: 42 },
  );
  assert.equal(configured.headers.get("x-key"), "Token 42", "numbers are written in decimal");
  assert.equal(configured.headers.get("x-mine"), "1");
});

test("query_param: needs param_name; sets it on a copy of the URL", async () => {
  const parts = partsOf("handshake");
  const applied = await apply(
    { type: StrategyType.QUERY_PARAM, config: { case: "queryParam", value: { paramName: "token", credentialField: "" } } },
    { api_key: "k1" },
    parts,
  );
  assert.equal(applied.url.search, "?a=1&token=k1");
  assert.equal(parts.url.search, "?a=1", "the input URL is not changed");
  const err = await refusal(apply({ type: StrategyType.QUERY_PARAM }, { api_key: "k1" }));
  assert.equal(err.field, "param_name");
});

test("basic_auth: username/password by default; a colon in the user name is refused", async () => {
  const applied = await apply({ type: StrategyType.BASIC_AUTH }, { username: "ann", password: "p:w" });
  assert.equal(applied.headers.get("authorization"), `Basic ${Buffer.from("ann:p:w").toString("base64")}`);
  const err = await refusal(apply({ type: StrategyType.BASIC_AUTH }, { username: "a:b", password: "secret-pw" }));
  assert.equal(err.field, "username");
  assert.ok(!err.message.includes("secret-pw"));
});

test("hmac_payload: signs the body bytes (sha256, hex by default); unknown body is refused", async () => {
  const strategy = { type: StrategyType.HMAC_PAYLOAD, config: { case: "hmacPayload" as const, value: { headerName: "X-Signature" } } };
  const applied = await apply(strategy, { api_secret: "s3cret" });
  assert.equal(applied.headers.get("x-signature"), createHmac("sha256", "s3cret").update("payload").digest("hex"));
  const noBody = await refusal(apply(strategy, { api_secret: "s3cret" }, partsOf("metadata", false)));
  assert.equal(noBody.strategy, "hmac_payload");
  const noHeader = await refusal(apply({ type: StrategyType.HMAC_PAYLOAD }, { api_secret: "s3cret" }));
  assert.equal(noHeader.field, "header_name");
});

test("aws_sigv4: signs with the injected clock's date and the configured service; needs a service", async () => {
  const strategy = {
    type: StrategyType.AWS_SIGV4,
    config: { case: "awsSigv4" as const, value: { service: "execute-api", region: "eu-west-1" } },
  };
  const applied = await apply(strategy, { access_key: "AKIDEXAMPLE", secret_key: "wJalrXUtnFEMI" });
  assert.equal(applied.headers.get("x-amz-date"), "20240102T030405Z");
  assert.match(
    applied.headers.get("authorization") ?? "",
    /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20240102\/eu-west-1\/execute-api\/aws4_request, /,
  );
  assert.equal(applied.headers.get("host"), null, "the transport sets Host");
  const err = await refusal(apply({ type: StrategyType.AWS_SIGV4 }, { access_key: "a", secret_key: "b" }));
  assert.equal(err.field, "service");
  const missing = await refusal(apply(strategy, { access_key: "AKIDEXAMPLE" }));
  assert.equal(missing.field, "secret_key");
});
