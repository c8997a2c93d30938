/**
 * The same bad input gets the same answer on every protocol: bytes that are not UTF-8 and control
 * characters (NUL included) in identifiers and names are invalid_argument naming the field over
 * REST, Connect (JSON and binary), gRPC and gRPC-Web, and nothing is stored. Envelopes with
 * reserved flag bits (0x80, 0x02, …) are protocol errors, never processed as messages.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { CheckConnectionRequestSchema } from "../gen/nexus/v1/connections_pb.ts";
import { WatchCredentialsRequestSchema } from "../gen/nexus/v1/tokens_pb.ts";
import { createKeyProvider, PROVIDER, seedConnection } from "./support/access-fixtures.ts";
import { type CallSpec, callOver, PROTOCOLS } from "./support/protocol-calls.ts";
import { createRawClient, type RawClient } from "./support/raw-client.ts";
import { startServer, TEST_TENANT, type TestServer } from "./support/start-server.ts";
import { envelope, outcomeOf, rawProto } from "./support/wire-outcome.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/input-parity.test.ts", () => {
  let server: TestServer;
  let client: RawClient;
  let connectionId: string;

  before(async () => {
    server = await startServer();
    await createKeyProvider(server);
    connectionId = await seedConnection(server, TEST_TENANT, "parity-secret");
    client = createRawClient(server.baseUrl);
  });
  after(async () => {
    client?.close();
    await server?.close();
  });

  const connectionCount = async () => (await server.app.store.listConnections(TEST_TENANT, {}, { pageSize: 100 })).items.length;
  const BAD = Buffer.from([0xff, 0xfe]);

  test("bytes that are not UTF-8 in user_id: invalid_argument naming user_id on every protocol", async () => {
    const before = await connectionCount();
    const json = Buffer.concat([Buffer.from('{"user_id":"u'), BAD, Buffer.from(`","provider_name":"${PROVIDER}"}`)]);
    const proto = rawProto([
      [1, Buffer.concat([Buffer.from("u"), BAD])],
      [2, PROVIDER],
    ]);
    const path = "/nexus.v1.ConnectionService/RequestConnection";
    const auth = server.auth();
    const sends = [
      { label: "REST", transport: "h1", path: "/v1/request-connection", headers: { "content-type": "application/json" }, body: json },
      { label: "Connect JSON", transport: "h2", path, headers: { "content-type": "application/json" }, body: json },
      { label: "Connect proto", transport: "h2", path, headers: { "content-type": "application/proto" }, body: proto },
      { label: "gRPC", transport: "h2", path, headers: { "content-type": "application/grpc", te: "trailers" }, body: envelope(proto) },
      {
        label: "gRPC JSON",
        transport: "h2",
        path,
        headers: { "content-type": "application/grpc+json", te: "trailers" },
        body: envelope(json),
      },
      { label: "gRPC-Web", transport: "h1", path, headers: { "content-type": "application/grpc-web+proto" }, body: envelope(proto) },
    ] as const;
    for (const send of sends) {
      const res = await client.send(
        { transport: send.transport, method: "POST", path: send.path, headers: { ...auth, ...send.headers }, body: send.body },
        60_000,
      );
      // gRPC-Web trailers travel in the body; read them as headers.
      const trailer = /grpc-status:\s*(\d+)/.exec(res.body.toString("latin1"));
      if (send.label === "gRPC-Web") {
        assert.equal(trailer?.[1], "3", `${send.label}: ${res.body.toString("latin1")}`);
        continue;
      }
      const outcome = outcomeOf(res);
      assert.deepEqual(
        [outcome.code, outcome.reason, outcome.field],
        ["invalid_argument", "INVALID_FIELD", "user_id"],
        `${send.label}: ${outcome.message}`,
      );
    }
    // In a REST path: the same field named.
    const restPath = outcomeOf(
      await client.send(
        { transport: "h1", method: "GET", path: "/v1/check-connection/conn%FF%FE", headers: auth, body: undefined },
        60_000,
      ),
    );
    assert.deepEqual([restPath.code, restPath.reason, restPath.field], ["invalid_argument", "INVALID_FIELD", "connection_id"]);
    assert.equal(await connectionCount(), before, "nothing was stored");
  });

  test("control characters in identifiers and names: invalid_argument naming the field on REST, Connect and gRPC", async () => {
    const before = await connectionCount();
    const agent = server.auth();
    const admin = server.auth(server.adminKey);
    const request = (fields: Record<string, unknown>, headers = agent): CallSpec => {
      const json = { user_id: "u", provider_name: PROVIDER, ...fields } as CallSpec["json"];
      return {
        rpc: "ConnectionService/RequestConnection",
        json,
        rest: { method: "POST", path: "/v1/request-connection", body: json },
        headers,
      };
    };
    const cases: [string, CallSpec, string][] = [];
    for (const char of ["\u0000", "\u0001", "\n", "\u001b", "\u007f", "\u0085"]) {
      const shown = JSON.stringify(char);
      cases.push([`user_id with ${shown}`, request({ user_id: `u${char}x` }), "user_id"]);
      cases.push([`provider_name with ${shown}`, request({ provider_name: `${PROVIDER}${char}` }), "provider_name"]);
      cases.push([`param key with ${shown}`, request({ params: { [`shop${char}`]: "x" } }), "params"]);
      cases.push([`tenant_id with ${shown}`, request({ tenant_id: `acme${char}` }, admin), "tenant_id"]);
      const keyJson = { name: `key${char}`, role: "ROLE_ADMIN" };
      cases.push([
        `API key name with ${shown}`,
        {
          rpc: "ApiKeyService/CreateApiKey",
          json: keyJson,
          rest: { method: "POST", path: "/v1/api-keys", body: { name: `key${char}`, role: "admin" } },
          headers: admin,
        },
        "name",
      ]);
      cases.push([
        `connection id with ${shown}`,
        {
          rpc: "ConnectionService/CheckConnection",
          json: { connection_id: `conn${char}` },
          rest: { method: "GET", path: `/v1/check-connection/conn${encodeURIComponent(char)}` },
          headers: agent,
        },
        "connection_id",
      ]);
    }
    for (const [label, spec, field] of cases) {
      for (const protocol of PROTOCOLS) {
        const outcome = await callOver(client, protocol, spec);
        assert.deepEqual(
          [outcome.code, outcome.reason, outcome.field],
          ["invalid_argument", "INVALID_FIELD", field],
          `${label} over ${protocol}: ${outcome.message}`,
        );
      }
    }
    // A lone surrogate can only be written as a JSON escape: REST and Connect JSON.
    for (const protocol of ["rest", "connect"] as const) {
      const outcome = await callOver(client, protocol, request({ user_id: "u\ud800" }));
      assert.deepEqual([outcome.code, outcome.field], ["invalid_argument", "user_id"], `lone surrogate over ${protocol}`);
    }
    assert.equal(await connectionCount(), before, "nothing was stored");
    const keys = await server.app.store.listApiKeys({}, { pageSize: 100 });
    assert.ok(
      keys.items.every((k) => !/[\u0000-\u001f\u007f-\u009f]/.test(k.name)),
      "no key was created with a control character",
    );
    // The refused calls are audited; their details (e.g. the key name) must not break the audit
    // write (PostgreSQL refuses NUL in text).
    await server.app.audit.flush();
    assert.equal(server.logs().includes("audit write failed"), false, "every audit row was written");
  });

  test("an unknown JSON field: invalid_argument, INVALID_FIELD naming its path, over REST, Connect and gRPC JSON", async () => {
    const agent = server.auth();
    const admin = server.auth(server.adminKey);
    const check = JSON.stringify({ connection_id: connectionId, colour: "red" });
    const provider = JSON.stringify({ provider: { name: "p-unknown", colour: "red" } });
    const connectPath = (rpc: string) => `/nexus.v1.${rpc}`;
    const sends = [
      {
        label: "REST",
        transport: "h1",
        method: "POST",
        path: "/v1/request-connection",
        headers: { ...agent, "content-type": "application/json" },
        body: Buffer.from(JSON.stringify({ user_id: "u", provider_name: PROVIDER, colour: "red" })),
        field: "colour",
      },
      {
        label: "REST nested",
        transport: "h1",
        method: "POST",
        path: "/v1/providers",
        headers: { ...admin, "content-type": "application/json" },
        body: Buffer.from(JSON.stringify({ name: "p-unknown", colour: "red" })),
        field: "provider.colour",
      },
      {
        label: "Connect JSON",
        transport: "h2",
        method: "POST",
        path: connectPath("ConnectionService/CheckConnection"),
        headers: { ...agent, "content-type": "application/json" },
        body: Buffer.from(check),
        field: "colour",
      },
      {
        label: "Connect JSON nested",
        transport: "h2",
        method: "POST",
        path: connectPath("ProviderService/CreateProvider"),
        headers: { ...admin, "content-type": "application/json" },
        body: Buffer.from(provider),
        field: "provider.colour",
      },
      {
        label: "gRPC JSON",
        transport: "h2",
        method: "POST",
        path: connectPath("ConnectionService/CheckConnection"),
        headers: { ...agent, "content-type": "application/grpc+json", te: "trailers" },
        body: envelope(Buffer.from(check)),
        field: "colour",
      },
      {
        label: "Connect streaming JSON",
        transport: "h2",
        method: "POST",
        path: connectPath("TokenService/WatchCredentials"),
        headers: { ...agent, "content-type": "application/connect+json" },
        body: envelope(Buffer.from(check)),
        field: "colour",
      },
    ] as const;
    for (const { label, field, ...send } of sends) {
      const outcome = outcomeOf(await client.send(send, 60_000));
      assert.deepEqual(
        [outcome.code, outcome.reason, outcome.field],
        ["invalid_argument", "INVALID_FIELD", field],
        `${label}: ${outcome.message}`,
      );
    }
  });

  test("without a key: a body that cannot be read is refused as read (400), a readable one is unauthenticated first", async () => {
    const path = "/nexus.v1.ConnectionService/RequestConnection";
    const json = { "content-type": "application/json" };
    const cases = [
      [
        "not UTF-8",
        Buffer.concat([Buffer.from('{"user_id":"u'), BAD, Buffer.from(`","provider_name":"${PROVIDER}"}`)]),
        "invalid_argument",
      ],
      ["not JSON", Buffer.from("{"), "invalid_argument"],
      ["unknown field", Buffer.from('{"colour":1}'), "invalid_argument"],
      ["control character", Buffer.from(`{"user_id":"u\\u0000","provider_name":"${PROVIDER}"}`), "unauthenticated"],
    ] as const;
    for (const [label, body, code] of cases) {
      for (const [transport, p] of [
        ["h2", path],
        ["h1", "/v1/request-connection"],
      ] as const) {
        const outcome = outcomeOf(await client.send({ transport, method: "POST", path: p, headers: json, body }, 60_000));
        assert.equal(outcome.code, code, `${label} on ${p}: ${outcome.message}`);
      }
    }
  });

  test("envelopes with reserved flag bits are protocol errors on gRPC, gRPC-Web and Connect streaming", async () => {
    const check = toBinary(CheckConnectionRequestSchema, create(CheckConnectionRequestSchema, { connectionId }));
    const watch = toBinary(WatchCredentialsRequestSchema, create(WatchCredentialsRequestSchema, { connectionId }));
    const auth = server.auth();
    // The same messages with flag 0x00 succeed: the flags alone make the difference.
    const okCall = await client.send(
      {
        transport: "h2",
        method: "POST",
        path: "/nexus.v1.ConnectionService/CheckConnection",
        headers: { ...auth, "content-type": "application/grpc", te: "trailers" },
        body: envelope(check),
      },
      60_000,
    );
    assert.equal(outcomeOf(okCall).code, "ok");
    for (const flags of [0x80, 0x02, 0x04, 0x40, 0x81]) {
      const sends = [
        {
          label: "gRPC unary",
          transport: "h2",
          path: "/nexus.v1.ConnectionService/CheckConnection",
          type: "application/grpc",
          body: check,
        },
        { label: "gRPC stream", transport: "h2", path: "/nexus.v1.TokenService/WatchCredentials", type: "application/grpc", body: watch },
        {
          label: "gRPC-Web unary",
          transport: "h2",
          path: "/nexus.v1.ConnectionService/CheckConnection",
          type: "application/grpc-web+proto",
          body: check,
        },
        {
          label: "Connect stream",
          transport: "h2",
          path: "/nexus.v1.TokenService/WatchCredentials",
          type: "application/connect+proto",
          body: watch,
        },
      ] as const;
      for (const send of sends) {
        const headers = { ...auth, "content-type": send.type, te: "trailers" };
        const res = await client.send(
          { transport: send.transport, method: "POST", path: send.path, headers, body: envelope(send.body, flags) },
          60_000,
        );
        assert.equal(res.timedOut, false, `${send.label} flags ${flags}: answered at once, not streaming`);
        const webStatus = /grpc-status:\s*(\d+)/.exec(res.body.toString("latin1"))?.[1];
        const outcome = send.type.startsWith("application/grpc-web")
          ? { code: webStatus === "3" ? "invalid_argument" : `grpc-status ${webStatus}`, reason: "MALFORMED_REQUEST" }
          : outcomeOf(res);
        assert.deepEqual(
          [outcome.code, outcome.reason],
          ["invalid_argument", "MALFORMED_REQUEST"],
          `${send.label} flags 0x${flags.toString(16)}`,
        );
      }
    }
  });
});
