/**
 * toSeedCredential is the REST JSON of a credential (what `GET /v1/token/{id}` answers), for every
 * strategy: checked against the server's own REST serializer, so the two cannot drift apart.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { type Credential, CredentialSchema, HmacAlgorithm, HmacEncoding, StrategyType, toSeedCredential } from "nexus/client";
import { toRestJson } from "../server/rest/rest-json.ts";

const credentials: Credential[] = [
  create(CredentialSchema, {
    strategy: { type: StrategyType.OAUTH2 },
    credentials: { access_token: "at-1", expires_at: 1795824381 },
    expiresAt: 1795824381n,
    version: 3n,
    connectionId: "conn_oauth",
  }),
  create(CredentialSchema, {
    strategy: {
      type: StrategyType.HMAC_PAYLOAD,
      config: {
        case: "hmacPayload",
        value: { headerName: "X-Sig", secretField: "secret", algorithm: HmacAlgorithm.SHA1, encoding: HmacEncoding.BASE64 },
      },
    },
    credentials: { secret: "s" },
    version: 1n,
    connectionId: "conn_hmac",
  }),
  create(CredentialSchema, {
    strategy: { type: StrategyType.AWS_SIGV4, config: { case: "awsSigv4", value: { service: "execute-api", region: "eu-west-1" } } },
    credentials: { access_key: "AKID", secret_key: "sk" },
    version: 2n,
    connectionId: "conn_aws",
  }),
  create(CredentialSchema, {
    strategy: { type: StrategyType.QUERY_PARAM, config: { case: "queryParam", value: { paramName: "key", credentialField: "api_key" } } },
    credentials: { api_key: "k" },
    connectionId: "conn_query",
  }),
  create(CredentialSchema, { connectionId: "conn_bare" }),
];

for (const credential of credentials) {
  test(`the seed view of ${credential.connectionId} is its REST JSON`, () => {
    assert.deepEqual(toSeedCredential(credential), toRestJson(CredentialSchema, credential));
  });
}

test("strategy types and HMAC settings read as the seed spells them", () => {
  const [oauth, hmac, aws] = credentials.map(toSeedCredential);
  assert.equal(oauth!.strategy?.type, "oauth2");
  assert.equal(oauth!.expires_at, 1795824381);
  assert.equal(oauth!.version, 3);
  assert.deepEqual(hmac!.strategy, {
    type: "hmac_payload",
    hmac_payload: { header_name: "X-Sig", secret_field: "secret", algorithm: "sha1", encoding: "base64" },
  });
  assert.equal(aws!.strategy?.type, "aws_sigv4");
});
