/**
 * Every error a client can branch on carries an ErrorInfo reason, on REST, Connect and gRPC alike:
 * 401 (missing, unknown, expired, revoked key), role 403, tenant 403, unknown route 404, 405, 415.
 * REST spells the reason in lower case (`api_key_missing`), Connect/gRPC carry the enum. A client's
 * deadline ends a server stream with deadline_exceeded, and a client dropping a stream is no error.
 */
import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, describe, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { ServerReflectionRequestSchema } from "../gen/grpc/reflection/v1/reflection_pb.ts";
import { WatchCredentialsRequestSchema } from "../gen/nexus/v1/tokens_pb.ts";
import { type Callers, createCallers, createKeyProvider, seedConnection, TENANT_A, TENANT_B } from "./support/access-fixtures.ts";
import { type CallSpec, callOver, PROTOCOLS } from "./support/protocol-calls.ts";
import { createRawClient, type RawClient } from "./support/raw-client.ts";
import { startServer, type TestServer } from "./support/start-server.ts";
import { envelope, outcomeOf } from "./support/wire-outcome.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/error-reasons.test.ts", () => {
  let server: TestServer;
  let client: RawClient;
  let callers: Callers;
  let connectionId: string;

  before(async () => {
    server = await startServer();
    await createKeyProvider(server);
    callers = await createCallers(server);
    connectionId = await seedConnection(server, TENANT_A, "reason-test-secret");
    client = createRawClient(server.baseUrl);
  });
  after(async () => {
    client?.close();
    await server?.close();
  });

  const check = (id: string): Omit<CallSpec, "headers"> => ({
    rpc: "ConnectionService/CheckConnection",
    json: { connection_id: id },
    rest: { method: "GET", path: `/v1/check-connection/${id}` },
  });

  test("401, role 403 and tenant 403 carry a reason on REST, Connect and gRPC", async () => {
    const cases: [string, CallSpec, string, string][] = [
      ["no key", { ...check("conn_x"), headers: callers.headers("none") }, "unauthenticated", "API_KEY_MISSING"],
      ["unknown key", { ...check("conn_x"), headers: callers.headers("bad") }, "unauthenticated", "API_KEY_INVALID"],
      ["expired key", { ...check("conn_x"), headers: callers.headers("expired") }, "unauthenticated", "API_KEY_EXPIRED"],
      ["revoked key", { ...check("conn_x"), headers: callers.headers("revoked") }, "unauthenticated", "API_KEY_REVOKED"],
      [
        "agent calling an admin RPC",
        { rpc: "ApiKeyService/ListApiKeys", json: {}, rest: { method: "GET", path: "/v1/api-keys" }, headers: callers.headers("agentA") },
        "permission_denied",
        "ROLE_NOT_ALLOWED",
      ],
      [
        "agent naming another tenant",
        {
          rpc: "ConnectionService/ListConnections",
          json: { tenant_id: TENANT_B },
          rest: { method: "GET", path: `/v1/connections?tenant_id=${TENANT_B}` },
          headers: callers.headers("agentA"),
        },
        "permission_denied",
        "TENANT_NOT_ALLOWED",
      ],
      ["another tenant's connection", { ...check(connectionId), headers: callers.headers("agentB") }, "not_found", "CONNECTION_NOT_FOUND"],
    ];
    for (const [label, spec, code, reason] of cases) {
      for (const protocol of PROTOCOLS) {
        const outcome = await callOver(client, protocol, spec);
        assert.deepEqual([outcome.code, outcome.reason], [code, reason], `${label} over ${protocol}: ${outcome.message}`);
        if (protocol === "rest") assert.equal(outcome.restReason, reason.toLowerCase(), `${label}: REST spells the reason in lower case`);
      }
    }
  });

  test("unknown route, wrong method and missing content type carry a reason", async () => {
    const auth = server.auth(server.adminKey);
    const send = (transport: "h1" | "h2", method: string, path: string, headers: Record<string, string>, body?: Uint8Array) =>
      client.send({ transport, method, path, headers: { ...auth, ...headers }, body }, 60_000).then(outcomeOf);

    const restRoute = await send("h1", "GET", "/v1/nothing-here", {});
    assert.deepEqual([restRoute.status, restRoute.code, restRoute.restReason], [404, "not_found", "route_not_found"]);
    const connectRoute = await send(
      "h2",
      "POST",
      "/nexus.v1.ConnectionService/NoSuchMethod",
      { "content-type": "application/json" },
      Buffer.from("{}"),
    );
    assert.deepEqual([connectRoute.status, connectRoute.reason], [404, "ROUTE_NOT_FOUND"]);
    const grpcRoute = await send(
      "h2",
      "POST",
      "/nexus.v1.ConnectionService/NoSuchMethod",
      { "content-type": "application/grpc", te: "trailers" },
      envelope(new Uint8Array()),
    );
    assert.deepEqual(
      [grpcRoute.status, grpcRoute.code, grpcRoute.reason],
      [200, "unimplemented", "ROUTE_NOT_FOUND"],
      "gRPC: status 12 in trailers",
    );

    const restMethod = await send("h1", "DELETE", "/v1/check-connection/conn_x", {});
    assert.deepEqual([restMethod.status, restMethod.code, restMethod.restReason], [405, "unimplemented", "method_not_allowed"]);
    const healthMethod = await send("h1", "POST", "/healthz", {});
    assert.deepEqual([healthMethod.status, healthMethod.restReason], [405, "method_not_allowed"]);

    const restType = await send("h1", "POST", "/v1/request-connection", {}, Buffer.from('{"user_id":"u"}'));
    assert.deepEqual([restType.status, restType.code, restType.restReason], [415, "unimplemented", "unsupported_media_type"]);
    const connectType = await send("h2", "POST", "/nexus.v1.ConnectionService/CheckConnection", {}, Buffer.from('{"connection_id":"x"}'));
    assert.deepEqual([connectType.status, connectType.code, connectType.reason], [415, "unimplemented", "UNSUPPORTED_MEDIA_TYPE"]);
    const textType = await send(
      "h2",
      "POST",
      "/nexus.v1.ConnectionService/CheckConnection",
      { "content-type": "text/plain" },
      Buffer.from("x"),
    );
    assert.deepEqual([textType.status, textType.reason], [415, "UNSUPPORTED_MEDIA_TYPE"]);
  });

  test("Health/Check of an unknown service: not_found with reason SERVICE_NOT_FOUND (gRPC and Connect)", async () => {
    const path = "/grpc.health.v1.Health/Check";
    const sends: { label: string; headers: Record<string, string>; body: Buffer }[] = [
      {
        label: "gRPC",
        headers: { "content-type": "application/grpc", te: "trailers" },
        body: envelope(Buffer.from([0x0a, 2, 0x6e, 0x6f])),
      },
      { label: "Connect", headers: { "content-type": "application/json" }, body: Buffer.from('{"service":"no"}') },
    ];
    for (const send of sends) {
      const outcome = outcomeOf(
        await client.send({ transport: "h2", method: "POST", path, headers: send.headers, body: send.body }, 60_000),
      );
      assert.deepEqual([outcome.code, outcome.reason], ["not_found", "SERVICE_NOT_FOUND"], `${send.label}: ${outcome.message}`);
    }
  });

  test("a client deadline ends WatchCredentials and Health/Watch with deadline_exceeded (gRPC and Connect)", async () => {
    const key = { authorization: callers.headers("agentA").authorization! };
    const watch = toBinary(WatchCredentialsRequestSchema, create(WatchCredentialsRequestSchema, { connectionId }));
    const calls: { label: string; path: string; headers: Record<string, string>; body: Uint8Array }[] = [
      {
        label: "gRPC WatchCredentials",
        path: "/nexus.v1.TokenService/WatchCredentials",
        headers: { ...key, "content-type": "application/grpc", te: "trailers", "grpc-timeout": "400m" },
        body: envelope(watch),
      },
      {
        label: "Connect WatchCredentials",
        path: "/nexus.v1.TokenService/WatchCredentials",
        headers: { ...key, "content-type": "application/connect+json", "connect-timeout-ms": "400" },
        body: envelope(Buffer.from(JSON.stringify({ connection_id: connectionId }))),
      },
      {
        label: "gRPC Health/Watch",
        path: "/grpc.health.v1.Health/Watch",
        headers: { "content-type": "application/grpc", te: "trailers", "grpc-timeout": "400m" },
        body: envelope(new Uint8Array()),
      },
      {
        label: "Connect Health/Watch",
        path: "/grpc.health.v1.Health/Watch",
        headers: { "content-type": "application/connect+json", "connect-timeout-ms": "400" },
        body: envelope(Buffer.from("{}")),
      },
    ];
    for (const call of calls) {
      // The stream must end by itself (well before this generous cap) and say why.
      const res = await client.send({ transport: "h2", method: "POST", ...call }, 60_000);
      assert.equal(res.timedOut, false, `${call.label} ended`);
      const outcome = outcomeOf(res);
      assert.deepEqual([outcome.code, outcome.reason], ["deadline_exceeded", "DEADLINE_EXCEEDED"], call.label);
    }
  });

  test("a client closing a reflection or watch stream early is not logged as an error", async () => {
    const logStart = server.logs().length;
    const reflect = toBinary(
      ServerReflectionRequestSchema,
      create(ServerReflectionRequestSchema, { messageRequest: { case: "listServices", value: "" } }),
    );
    for (let i = 0; i < 3; i++) {
      const session = http2.connect(server.baseUrl);
      session.on("error", () => undefined);
      const stream = session.request(
        {
          ":method": "POST",
          ":path": "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
          "content-type": "application/grpc",
          te: "trailers",
          ...server.auth(),
        },
        { endStream: false },
      );
      stream.on("error", () => undefined);
      stream.write(envelope(reflect));
      await new Promise((resolve) => stream.once("data", resolve));
      const closed = new Promise((resolve) => stream.once("close", resolve));
      // Cancel the stream, cut it mid-envelope, or drop the whole connection.
      if (i === 0) stream.close(http2.constants.NGHTTP2_CANCEL);
      if (i === 1) stream.write(Buffer.from([0, 0, 0]), () => stream.close(http2.constants.NGHTTP2_CANCEL));
      if (i === 2) session.destroy();
      await closed;
      session.destroy();
    }
    // The server logs each finished RPC (at debug); wait for the three before reading the log.
    const deadline = Date.now() + 30_000;
    while (
      (
        server
          .logs()
          .slice(logStart)
          .match(/ServerReflectionInfo/g) ?? []
      ).length < 3 &&
      Date.now() < deadline
    )
      await new Promise((r) => setImmediate(r));
    const lines = server.logs().slice(logStart).split("\n");
    assert.equal(lines.filter((l) => l.includes("ServerReflectionInfo")).length >= 3, true, "the three streams were logged");
    assert.deepEqual(
      lines.filter((l) => /"level":(50|60)/.test(l)),
      [],
      "nothing at error level",
    );
  });

  test("a stream ended by its deadline frees its place under the per-key stream cap", async () => {
    const capped = await startServer({ env: { NEXUS_MAX_STREAMS_PER_KEY: "1" } });
    const raw = createRawClient(capped.baseUrl);
    try {
      await createKeyProvider(capped);
      const id = await seedConnection(capped, "default", "cap-secret");
      const watch = envelope(toBinary(WatchCredentialsRequestSchema, create(WatchCredentialsRequestSchema, { connectionId: id })));
      const headers = { ...capped.auth(), "content-type": "application/grpc", te: "trailers", "grpc-timeout": "300m" };
      for (let i = 0; i < 3; i++) {
        const res = await raw.send(
          { transport: "h2", method: "POST", path: "/nexus.v1.TokenService/WatchCredentials", headers, body: watch },
          60_000,
        );
        assert.equal(outcomeOf(res).code, "deadline_exceeded", `stream ${i + 1} was let in and ended by its deadline`);
      }
    } finally {
      raw.close();
      await capped.close();
    }
  });
});
