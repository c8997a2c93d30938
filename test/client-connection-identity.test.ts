/**
 * The typed client sees who connected: Connection.account, labels, metadata and
 * reused_connection_id through GetConnection, ListConnections (account and label filters) and
 * CheckConnection, over Connect and gRPC, against a real server.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ConnectionStatus, createNexusClient, type NexusClient } from "../client/index.ts";
import { startServer, TEST_TENANT, type TestServer } from "./support/start-server.ts";

describe("test/client-connection-identity.test.ts", () => {
  let server: TestServer;
  let active: string;
  let reused: string;

  before(async () => {
    server = await startServer();
    const { store } = server.app;
    const account = { id: "4242", email: "octo@example.com", displayName: "octo" };
    const a = await store.createConnection({
      tenantId: TEST_TENANT,
      userId: "user-1",
      providerName: "github",
      labels: { workspace: "acme" },
    });
    active = (await store.updateConnectionStatus(TEST_TENANT, a.id, "pending", "active", null, { account, metadata: { team_id: "T1" } }))
      .id;
    const b = await store.createConnection({
      tenantId: TEST_TENANT,
      userId: "user-1",
      providerName: "github",
      labels: { workspace: "beta" },
    });
    reused = (
      await store.updateConnectionStatus(TEST_TENANT, b.id, "pending", "failed", "reused_existing", { account, reusedConnectionId: a.id })
    ).id;
  });
  after(() => server?.close());

  for (const protocol of ["connect", "grpc"] as const) {
    test(`account, labels and metadata over ${protocol}`, async () => {
      const client: NexusClient = createNexusClient({ baseUrl: server.baseUrl, apiKey: server.agentKey, protocol });
      try {
        const { connection } = await client.connections.getConnection({ connectionId: active });
        assert.equal(connection?.account?.id, "4242");
        assert.equal(connection?.account?.email, "octo@example.com");
        assert.equal(connection?.account?.displayName, "octo");
        assert.deepEqual(connection?.labels, { workspace: "acme" });
        assert.deepEqual(connection?.metadata, { team_id: "T1" });

        const byAccount = await client.connections.listConnections({ accountId: "4242" });
        assert.deepEqual(byAccount.connections.map((c) => c.connectionId).sort(), [active, reused].sort());
        const byLabel = await client.connections.listConnections({
          accountId: "4242",
          labels: ["workspace=acme"],
          status: ConnectionStatus.ACTIVE,
        });
        assert.deepEqual(
          byLabel.connections.map((c) => c.connectionId),
          [active],
        );

        const check = await client.connections.checkConnection({ connectionId: reused });
        assert.equal(check.status, ConnectionStatus.FAILED);
        assert.equal(check.reusedConnectionId, active);
        assert.equal(check.account?.id, "4242");
      } finally {
        client.close();
      }
    });
  }
});
