/**
 * Tenant isolation over every protocol: an agent of tenant B can never read, watch, refresh,
 * revoke, reconnect or even see tenant A's connection — gRPC, gRPC-Web, Connect (binary, JSON, GET)
 * and REST all answer NotFound, nothing about the connection changes, and A's secret never appears.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { ConnectionService } from "../gen/nexus/v1/connections_pb.ts";
import { TokenService } from "../gen/nexus/v1/tokens_pb.ts";
import { createKeyProvider, PROVIDER, secretValue, seedConnection, TENANT_A, TENANT_B } from "./support/access-fixtures.ts";
import { startServer, type TestServer } from "./support/start-server.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/tenant-isolation.test.ts", () => {
  let server: TestServer;
  let connA: string;
  let secretA: string;
  let agentA: string;
  let agentB: string;

  before(async () => {
    server = await startServer();
    await createKeyProvider(server);
    secretA = secretValue("tenant-a-secret");
    connA = await seedConnection(server, TENANT_A, secretA);
    await seedConnection(server, TENANT_B, secretValue("tenant-b-secret"));
    agentA = (await server.createKey({ role: "agent", tenantId: TENANT_A })).secret;
    agentB = (await server.createKey({ role: "agent", tenantId: TENANT_B })).secret;
  });
  after(() => server.close());

  const transports: Record<string, (key: string) => Transport> = {
    grpc: (key) => createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [server.bearer(key)] }),
    "grpc-web": (key) => createGrpcWebTransport({ baseUrl: server.baseUrl, httpVersion: "1.1", interceptors: [server.bearer(key)] }),
    "connect binary h2": (key) => createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "2", interceptors: [server.bearer(key)] }),
    "connect json h1": (key) =>
      createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1", useBinaryFormat: false, interceptors: [server.bearer(key)] }),
    "connect GET": (key) =>
      createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1", useHttpGet: true, interceptors: [server.bearer(key)] }),
  };

  async function codeOf(promise: Promise<unknown>): Promise<Code | "ok"> {
    try {
      await promise;
      return "ok";
    } catch (err) {
      return ConnectError.from(err).code;
    }
  }

  async function firstOf(stream: AsyncIterable<unknown>): Promise<unknown> {
    for await (const message of stream) return message;
    return undefined;
  }

  async function stateOfA() {
    const connection = await server.app.store.getConnection(TENANT_A, connA);
    const credential = await server.app.store.getCredential(connA);
    return {
      status: connection.status,
      version: connection.credentialVersion,
      updatedAtMs: connection.updatedAtMs,
      hasCredential: credential !== null,
    };
  }

  for (const [name, make] of Object.entries(transports)) {
    test(`${name}: tenant B gets NotFound for every operation on tenant A's connection`, async () => {
      const before = await stateOfA();
      const connections = createClient(ConnectionService, make(agentB));
      const tokens = createClient(TokenService, make(agentB));
      const id = { connectionId: connA };
      const attempts: [string, () => Promise<unknown>][] = [
        ["GetToken", () => tokens.getToken(id)],
        ["CheckConnection", () => connections.checkConnection(id)],
        ["GetConnection", () => connections.getConnection(id)],
      ];
      // Methods with side effects are POST-only: Connect GET cannot carry them.
      if (name !== "connect GET") {
        attempts.push(
          ["RefreshConnection", () => tokens.refreshConnection(id)],
          ["RevokeConnection", () => connections.revokeConnection(id)],
          ["ReconnectConnection", () => connections.reconnectConnection({ ...id, returnUrl: "http://localhost:3000/x" })],
        );
      }
      if (name === "grpc" || name === "connect binary h2") {
        attempts.push(["WatchCredentials", () => firstOf(tokens.watchCredentials(id, { signal: AbortSignal.timeout(2_000) }))]);
      }
      for (const [method, attempt] of attempts) assert.equal(await codeOf(attempt()), Code.NotFound, `${name} ${method}`);
      const listed = await connections.listConnections({});
      assert.ok(listed.connections.length >= 1 && listed.connections.every((c) => c.tenantId === TENANT_B), "B lists only B's connections");
      assert.equal(await codeOf(connections.listConnections({ tenantId: TENANT_A })), Code.PermissionDenied);
      assert.deepEqual(await stateOfA(), before, "nothing about A's connection changed");
      // The owner still gets it, over the same protocol.
      const own = await createClient(TokenService, make(agentA)).getToken(id);
      assert.equal(own.credential?.credentials?.api_key, secretA);
    });
  }

  test("REST: tenant B gets NotFound on every path of A's connection, and never A's secret", async () => {
    const before = await stateOfA();
    const calls: [string, string][] = [
      ["GET", `/v1/token/${connA}`],
      ["GET", `/v1/check-connection/${connA}`],
      ["GET", `/v1/connections/${connA}`],
      ["POST", `/v1/refresh/${connA}`],
      ["POST", `/v1/connections/${connA}:revoke`],
      ["POST", `/v1/connections/${connA}:reconnect`],
    ];
    for (const [method, path] of calls) {
      for (const headers of [{ authorization: `Bearer ${agentB}` }, { "x-api-key": agentB }]) {
        const res = await fetch(`${server.baseUrl}${path}`, {
          method,
          headers: { ...headers, "content-type": "application/json" },
          body: path.endsWith(":reconnect")
            ? JSON.stringify({ return_url: "http://localhost:3000/x" })
            : path.endsWith(":revoke")
              ? "{}"
              : undefined,
        });
        const text = await res.text();
        assert.equal(res.status, 404, `${method} ${path}: ${text}`);
        assert.ok(!text.includes(secretA));
      }
    }
    const asA = await fetch(`${server.baseUrl}/v1/connections?tenant_id=${TENANT_A}`, { headers: { authorization: `Bearer ${agentB}` } });
    assert.equal(asA.status, 403);
    const create = await fetch(`${server.baseUrl}/v1/request-connection`, {
      method: "POST",
      headers: { authorization: `Bearer ${agentB}`, "content-type": "application/json" },
      body: JSON.stringify({ tenant_id: TENANT_A, user_id: "u", provider_name: PROVIDER, return_url: "http://localhost:3000/x" }),
    });
    assert.equal(create.status, 403, "B cannot create connections in A");
    assert.equal((await server.app.store.listConnections(TENANT_A, {}, {})).items.length, 1, "nothing was created in A");
    assert.deepEqual(await stateOfA(), before);
    assert.ok(!server.logs().includes(secretA), "A's secret is not in the logs");
  });

  test("an admin reads any tenant's connection by id but must name the tenant to list or create", async () => {
    const admin = createClient(ConnectionService, transports.grpc!(server.adminKey));
    assert.equal((await admin.getConnection({ connectionId: connA })).connection?.tenantId, TENANT_A);
    assert.equal(await codeOf(admin.listConnections({})), Code.InvalidArgument);
    assert.equal((await admin.listConnections({ tenantId: TENANT_A })).connections.length, 1);
    assert.equal(await codeOf(admin.getConnection({ connectionId: "conn_nope" })), Code.NotFound);
    assert.equal(
      await codeOf(admin.requestConnection({ userId: "u", providerName: PROVIDER, returnUrl: "http://localhost:3000/x" })),
      Code.InvalidArgument,
    );
  });
});
