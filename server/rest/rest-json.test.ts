import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema, timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  CheckConnectionResponseSchema,
  ConnectionSchema,
  GetConnectionResponseSchema,
  ListConnectionsRequestSchema,
  RequestConnectionRequestSchema,
  RequestConnectionResponseSchema,
} from "../../gen/nexus/v1/connections_pb.ts";
import { HmacAlgorithm, StrategySchema, StrategyType } from "../../gen/nexus/v1/credential_pb.ts";
import { ErrorInfoSchema, ErrorReason } from "../../gen/nexus/v1/errors_pb.ts";
import { AuthType, ProviderSchema, UpdateProviderRequestSchema } from "../../gen/nexus/v1/providers_pb.ts";
import { ConnectionStatus, ConnectionStatusSchema } from "../../gen/nexus/v1/status_pb.ts";
import { GetTokenResponseSchema } from "../../gen/nexus/v1/tokens_pb.ts";
import { InvalidArgumentError } from "../domain/errors.ts";
import { fromRestJson, restEnumName, toRestJson } from "./rest-json.ts";

test("GetTokenResponse renders the seed's credential shape", () => {
  const message = create(GetTokenResponseSchema, {
    credential: {
      strategy: { type: StrategyType.OAUTH2 },
      credentials: { access_token: "at-1", expires_at: 123 },
      expiresAt: 123n,
      version: 4n,
      connectionId: "c1",
    },
  });
  assert.deepEqual(toRestJson(GetTokenResponseSchema, message), {
    credential: {
      strategy: { type: "oauth2" },
      credentials: { access_token: "at-1", expires_at: 123 },
      expires_at: 123,
      version: 4,
      connection_id: "c1",
    },
  });
});

test("enums lose their prefix and defaults are omitted", () => {
  const message = create(CheckConnectionResponseSchema, { status: ConnectionStatus.ATTENTION_REQUIRED });
  assert.deepEqual(toRestJson(CheckConnectionResponseSchema, message), { status: "attention_required" });
  assert.deepEqual(toRestJson(CheckConnectionResponseSchema, create(CheckConnectionResponseSchema)), {});
  assert.equal(restEnumName(ConnectionStatusSchema, "CONNECTION_STATUS_ACTIVE"), "active");
  const strategy = create(StrategySchema, {
    type: StrategyType.HMAC_PAYLOAD,
    config: { case: "hmacPayload", value: { headerName: "X-Sig", algorithm: HmacAlgorithm.SHA1 } },
  });
  assert.deepEqual(toRestJson(StrategySchema, strategy), {
    type: "hmac_payload",
    hmac_payload: { header_name: "X-Sig", algorithm: "sha1" },
  });
});

test("an explicit json_name is kept, int64 become numbers, strings only when unsafe", () => {
  const message = create(RequestConnectionResponseSchema, {
    authUrl: "https://idp/authorize?x=1",
    connectionId: "c1",
    status: ConnectionStatus.PENDING,
    authUrlExpiresAt: 9007199254740993n,
  });
  assert.deepEqual(toRestJson(RequestConnectionResponseSchema, message), {
    authUrl: "https://idp/authorize?x=1",
    connection_id: "c1",
    status: "pending",
    auth_url_expires_at: "9007199254740993",
  });
});

test("well-known types, lists and maps render as proto3 JSON inside the profile", () => {
  const message = create(GetConnectionResponseSchema, {
    connection: {
      connectionId: "c1",
      scopes: ["a", "b"],
      params: { shop: "acme" },
      createTime: timestampFromMs(Date.UTC(2024, 0, 2, 3, 4, 5)),
      credentialVersion: 2n,
    },
  });
  assert.deepEqual(toRestJson(GetConnectionResponseSchema, message), {
    connection: {
      connection_id: "c1",
      scopes: ["a", "b"],
      params: { shop: "acme" },
      create_time: "2024-01-02T03:04:05Z",
      credential_version: 2,
    },
  });
  const info = create(ErrorInfoSchema, { reason: ErrorReason.CONNECTION_NEEDS_ATTENTION, status: ConnectionStatus.ATTENTION_REQUIRED });
  assert.deepEqual(toRestJson(ErrorInfoSchema, info), { reason: "connection_needs_attention", status: "attention_required" });
});

test("input accepts proto names, json names, REST and full enum names, numbers or strings for integers", () => {
  const fromProtoNames = fromRestJson(ListConnectionsRequestSchema, { user_id: "u1", status: "attention_required", page_size: 10 });
  assert.equal(fromProtoNames.userId, "u1");
  assert.equal(fromProtoNames.status, ConnectionStatus.ATTENTION_REQUIRED);
  assert.equal(fromProtoNames.pageSize, 10);
  const fromJsonNames = fromRestJson(ListConnectionsRequestSchema, { userId: "u1", status: "CONNECTION_STATUS_ACTIVE", pageSize: "20" });
  assert.equal(fromJsonNames.status, ConnectionStatus.ACTIVE);
  assert.equal(fromJsonNames.pageSize, 20);
  assert.equal(fromRestJson(ListConnectionsRequestSchema, { status: 4 }).status, ConnectionStatus.REVOKED);
  const connection = fromRestJson(ConnectionSchema, { expires_at: 123, credential_version: "9007199254740993" });
  assert.equal(connection.expiresAt, 123n);
  assert.equal(connection.credentialVersion, 9007199254740993n);
  const provider = fromRestJson(ProviderSchema, {
    name: "acme",
    auth_type: "oauth2_client_credentials",
    strategy: { type: "header", header: { header_name: "X-Key" } },
    credential_schema: { type: "object", properties: { key: { type: "string" } } },
  });
  assert.equal(provider.authType, AuthType.OAUTH2_CLIENT_CREDENTIALS);
  assert.equal(provider.strategy?.config.case, "header");
  assert.deepEqual(provider.credentialSchema, { type: "object", properties: { key: { type: "string" } } });
});

test("a FieldMask accepts proto names and lowerCamelCase paths", () => {
  const snake = fromRestJson(UpdateProviderRequestSchema, { update_mask: "display_name,oauth.client_secret" });
  assert.deepEqual(snake.updateMask?.paths, ["display_name", "oauth.client_secret"]);
  const camel = fromRestJson(UpdateProviderRequestSchema, { updateMask: "displayName,oauth.clientSecret" });
  assert.deepEqual(camel.updateMask, create(FieldMaskSchema, { paths: ["display_name", "oauth.client_secret"] }));
});

test("round trip: toRestJson output parses back to an equal message", () => {
  const original = create(RequestConnectionResponseSchema, {
    authUrl: "u",
    connectionId: "c",
    status: ConnectionStatus.ACTIVE,
    authUrlExpiresAt: 5n,
  });
  const json = toRestJson(RequestConnectionResponseSchema, original);
  assert.deepEqual(fromRestJson(RequestConnectionResponseSchema, json), original);
});

function invalid(fn: () => unknown, field: string, reason: RegExp): void {
  assert.throws(
    fn,
    (err: unknown) => err instanceof InvalidArgumentError && err.field === field && reason.test(err.reason),
    `${field}: ${reason.source}`,
  );
}

test("bad input is an InvalidArgumentError naming the field path", () => {
  invalid(() => fromRestJson(RequestConnectionRequestSchema, { user_id: "u", colour: "red" }), "colour", /unknown field/);
  invalid(() => fromRestJson(ProviderSchema, { oauth: { client_idd: "x" } }), "oauth.client_idd", /unknown field/);
  invalid(
    () => fromRestJson(ListConnectionsRequestSchema, { status: "sleeping" }),
    "status",
    /unknown value "sleeping"; expected one of: unspecified, pending, active/,
  );
  invalid(() => fromRestJson(ListConnectionsRequestSchema, { page_size: "ten" }), "page_size", /int32/);
  invalid(() => fromRestJson(ListConnectionsRequestSchema, { page_size: 1.5 }), "page_size", /int32/);
  invalid(() => fromRestJson(RequestConnectionRequestSchema, { scopes: ["a", 2] }), "scopes", /string/);
  invalid(() => fromRestJson(RequestConnectionRequestSchema, { user_id: "a", userId: "b" }), "user_id", /set more than once/);
  invalid(() => fromRestJson(ProviderSchema, { create_time: "yesterday" }), "create_time", /RFC 3339/);
  invalid(() => fromRestJson(ProviderSchema, { strategy: "oauth2" }), "strategy", /expected a JSON object/);
  invalid(() => fromRestJson(ProviderSchema, [1, 2]), "", /expected a JSON object/);
  invalid(() => fromRestJson(ProviderSchema, null), "", /expected a JSON object/);
  invalid(() => fromRestJson(StrategySchema, { header: {}, basic_auth: {} }), "config", /oneof set multiple times/);
});

test("(nexus.v1.rest_json_name) renames a key in both directions: the seed's authUrl", () => {
  const json = toRestJson(
    RequestConnectionResponseSchema,
    create(RequestConnectionResponseSchema, { authUrl: "https://idp/authorize", connectionId: "conn_1" }),
  );
  assert.deepEqual(json, { authUrl: "https://idp/authorize", connection_id: "conn_1" });
  const back = fromRestJson(RequestConnectionResponseSchema, { authUrl: "https://x", connection_id: "c" });
  assert.equal(back.authUrl, "https://x");
});
