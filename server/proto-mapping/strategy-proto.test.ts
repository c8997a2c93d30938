import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { HmacAlgorithm, StrategySchema, StrategyType } from "../../gen/nexus/v1/credential_pb.ts";
import { InvalidArgumentError } from "../domain/errors.ts";
import type { Strategy } from "../domain/strategy.ts";
import { strategyFromProto, strategyToProto } from "./strategy-proto.ts";

const strategies: Strategy[] = [
  { type: "oauth2" },
  { type: "header", headerName: "X-Api-Key", credentialField: "api_key", valuePrefix: "" },
  { type: "query_param", paramName: "appid", credentialField: "api_key" },
  { type: "basic_auth", usernameField: "account_sid", passwordField: "auth_token" },
  { type: "hmac_payload", headerName: "X-Sig", secretField: "api_secret", algorithm: "sha1", encoding: "base64" },
  { type: "aws_sigv4", service: "s3", region: "eu-west-1" },
];

test("every strategy survives a round trip through the proto", () => {
  // Empty strings mean "default" on input, so the prefix "" comes back absent (validation restores it).
  for (const strategy of strategies) {
    const expected = Object.fromEntries(Object.entries(strategy).filter(([, v]) => v !== ""));
    assert.deepEqual(strategyFromProto(strategyToProto(strategy)), expected);
  }
});

test("output spells out the oneof config", () => {
  const proto = strategyToProto(strategies[4]!);
  assert.equal(proto.type, StrategyType.HMAC_PAYLOAD);
  assert.equal(proto.config.case, "hmacPayload");
  assert.equal(proto.config.case === "hmacPayload" && proto.config.value.algorithm, HmacAlgorithm.SHA1);
});

test("input: empty and unspecified values become absent; a mismatched config is refused", () => {
  assert.deepEqual(strategyFromProto(create(StrategySchema, {})), {});
  assert.deepEqual(strategyFromProto(create(StrategySchema, { type: StrategyType.HEADER })), { type: "header" });
  const mismatched = create(StrategySchema, { type: StrategyType.HEADER, config: { case: "queryParam", value: { paramName: "k" } } });
  assert.throws(
    () => strategyFromProto(mismatched, "provider.strategy"),
    (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError);
      assert.equal(err.field, "provider.strategy.query_param");
      return true;
    },
  );
  assert.throws(() => strategyFromProto(create(StrategySchema, { type: 42 as StrategyType })), InvalidArgumentError);
});
