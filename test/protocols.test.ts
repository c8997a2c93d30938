/**
 * One call, every protocol: gRPC, gRPC-Web, Connect (binary, JSON, GET) and the REST mapping reach
 * the same handler on one port and agree on answers and error codes.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { ConnectionService } from "../gen/nexus/v1/connections_pb.ts";
import { ErrorInfoSchema, ErrorReason } from "../gen/nexus/v1/errors_pb.ts";
import { ConnectionStatus } from "../gen/nexus/v1/status_pb.ts";
import { TokenService } from "../gen/nexus/v1/tokens_pb.ts";
import { startServer, type TestServer } from "./support/start-server.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/protocols.test.ts", () => {
  let server: TestServer;
  let activeId: string;
  let pendingId: string;

  before(async () => {
    server = await startServer();
    const { store } = server.app;
    activeId = (await store.createConnection({ tenantId: "default", userId: "u1", providerName: "github", status: "active" })).id;
    pendingId = (await store.createConnection({ tenantId: "default", userId: "u2", providerName: "google" })).id;
  });
  after(() => server.close());

  const transports: Record<string, () => Transport> = {
    grpc: () => createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [server.bearer()] }),
    "grpc-web (h1)": () => createGrpcWebTransport({ baseUrl: server.baseUrl, httpVersion: "1.1", interceptors: [server.bearer()] }),
    "connect binary (h2)": () => createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "2", interceptors: [server.bearer()] }),
    "connect json (h1)": () =>
      createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1", useBinaryFormat: false, interceptors: [server.bearer()] }),
    "connect GET (h1)": () =>
      createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1", useHttpGet: true, interceptors: [server.bearer()] }),
  };

  describe("generated clients over every protocol", () => {
    for (const [name, make] of Object.entries(transports)) {
      test(`${name}: CheckConnection answers and NotFound carries ErrorInfo`, async () => {
        const client = createClient(ConnectionService, make());
        assert.equal((await client.checkConnection({ connectionId: activeId })).status, ConnectionStatus.ACTIVE);
        assert.equal((await client.checkConnection({ connectionId: pendingId })).status, ConnectionStatus.PENDING);
        const err = await client.checkConnection({ connectionId: "conn_missing" }).then(
          () => assert.fail("expected NotFound"),
          (e: unknown) => ConnectError.from(e),
        );
        assert.equal(err.code, Code.NotFound);
        const [info] = err.findDetails(ErrorInfoSchema);
        assert.equal(info?.reason, ErrorReason.CONNECTION_NOT_FOUND);
        assert.equal(info?.connectionId, "conn_missing");
      });
    }

    test("GetToken on a pending connection is FailedPrecondition with the connection's status", async () => {
      const client = createClient(TokenService, transports.grpc!());
      const err = await client.getToken({ connectionId: pendingId }).catch((e: unknown) => ConnectError.from(e));
      assert.ok(err instanceof ConnectError);
      assert.equal(err.code, Code.FailedPrecondition);
      const [info] = err.findDetails(ErrorInfoSchema);
      assert.equal(info?.reason, ErrorReason.CONNECTION_PENDING);
      assert.equal(info?.status, ConnectionStatus.PENDING);
    });

    test("an invalid id is InvalidArgument naming the field", async () => {
      const client = createClient(ConnectionService, transports.grpc!());
      const err = await client.getConnection({ connectionId: "../etc/passwd" }).catch((e: unknown) => ConnectError.from(e));
      assert.ok(err instanceof ConnectError);
      assert.equal(err.code, Code.InvalidArgument);
      assert.equal(err.findDetails(ErrorInfoSchema)[0]?.field, "connection_id");
    });

    test("RequestConnection for a provider that is not configured is NotFound (PROVIDER_NOT_FOUND)", async () => {
      const client = createClient(ConnectionService, transports.grpc!());
      const err = await client
        .requestConnection({ userId: "u", providerName: "google", returnUrl: "http://localhost:3000/cb" })
        .catch((e: unknown) => ConnectError.from(e));
      assert.ok(err instanceof ConnectError);
      assert.equal(err.code, Code.NotFound);
      assert.equal(err.findDetails(ErrorInfoSchema)[0]?.reason, ErrorReason.PROVIDER_NOT_FOUND);
    });
  });

  describe("plain HTTP: Connect JSON, Connect GET and REST agree", () => {
    test("Connect JSON POST by fetch", async () => {
      const res = await fetch(`${server.baseUrl}/nexus.v1.ConnectionService/CheckConnection`, {
        method: "POST",
        headers: { "content-type": "application/json", ...server.auth() },
        body: JSON.stringify({ connection_id: activeId }),
      });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: "CONNECTION_STATUS_ACTIVE" });
    });

    test("Connect GET by fetch", async () => {
      const message = encodeURIComponent(JSON.stringify({ connectionId: activeId }));
      const res = await fetch(`${server.baseUrl}/nexus.v1.ConnectionService/CheckConnection?connect=v1&encoding=json&message=${message}`, {
        headers: server.auth(),
      });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: "CONNECTION_STATUS_ACTIVE" });
    });

    test("REST GET /v1/check-connection/{id} has the seed's shape", async () => {
      const res = await fetch(`${server.baseUrl}/v1/check-connection/${activeId}`, { headers: server.auth() });
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
      assert.deepEqual(await res.json(), { status: "active" });
      const pending = await fetch(`${server.baseUrl}/v1/check-connection/${pendingId}`, { headers: server.auth() });
      assert.deepEqual(await pending.json(), { status: "pending" });
    });

    test("REST GET /v1/connections/{id} uses snake_case keys, lower-case enums, numeric int64", async () => {
      const res = await fetch(`${server.baseUrl}/v1/connections/${activeId}`, { headers: server.auth() });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { connection: Record<string, unknown> };
      assert.equal(body.connection.connection_id, activeId);
      assert.equal(body.connection.provider_name, "github");
      assert.equal(body.connection.status, "active");
      assert.equal(typeof body.connection.create_time, "string");
    });

    test("NotFound is 404 on REST and Connect, with the same code and details", async () => {
      const rest = await fetch(`${server.baseUrl}/v1/check-connection/conn_missing`, { headers: server.auth() });
      const connect = await fetch(`${server.baseUrl}/nexus.v1.ConnectionService/CheckConnection`, {
        method: "POST",
        headers: { "content-type": "application/json", ...server.auth() },
        body: JSON.stringify({ connection_id: "conn_missing" }),
      });
      for (const res of [rest, connect]) {
        assert.equal(res.status, 404);
        const body = (await res.json()) as { code: string; message: string };
        assert.equal(body.code, "not_found");
        assert.match(body.message, /connection "conn_missing" not found/);
      }
    });

    test("every seed REST path answers with JSON (NotFound for unknown ids)", async () => {
      const calls: [string, string, unknown?][] = [
        ["GET", "/v1/check-connection/conn_nope"],
        ["GET", "/v1/token/conn_nope"],
        ["POST", "/v1/refresh/conn_nope"],
      ];
      for (const [method, path] of calls) {
        const res = await fetch(`${server.baseUrl}${path}`, { method, headers: server.auth() });
        assert.equal(res.status, 404, `${method} ${path}`);
        assert.equal(((await res.json()) as { code: string }).code, "not_found");
      }
      const req = await fetch(`${server.baseUrl}/v1/request-connection`, {
        method: "POST",
        headers: { "content-type": "application/json", ...server.auth() },
        body: JSON.stringify({ user_id: "u", provider_name: "google", scopes: ["email"], return_url: "http://localhost:3000/cb" }),
      });
      assert.equal(req.status, 404, "no provider named google is configured");
      assert.equal(((await req.json()) as { code: string }).code, "not_found");
    });
  });
});
