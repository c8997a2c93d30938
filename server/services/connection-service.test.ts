/**
 * ConnectionService at its seam: the handlers on an in-memory router transport over a real store,
 * called as an agent and as an admin. Tenant scoping, proto ⇄ domain translation of statuses and
 * pages, the consent flow and revoker it delegates to (the revoker is the real one), and the codes
 * and reasons of refusals.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code } from "@connectrpc/connect";
import { ConnectionService } from "../../gen/nexus/v1/connections_pb.ts";
import { ErrorReason } from "../../gen/nexus/v1/errors_pb.ts";
import { ConnectionStatus } from "../../gen/nexus/v1/status_pb.ts";
import { ADMIN, agentOf, openServiceStore, reasonOf, refusal, serviceClient } from "../../test/support/service-rig.ts";
import { createTenantScope } from "../auth/tenant-scope.ts";
import type { ConsentFlow } from "../consent/consent-flow.ts";
import { openConnection, transition } from "../lifecycle/connection-transition.ts";
import { createLogger } from "../logging/logger.ts";
import type { OAuthClient } from "../oauth/oauth-client.ts";
import type { Principal } from "../request/principal.ts";
import { createConnectionRevoker } from "../revocation/connection-revoker.ts";
import type { Store } from "../store/store.ts";
import { generateKeyringText, parseKeyring } from "../vault/keyring.ts";
import { createVault } from "../vault/vault.ts";
import { createConnectionService } from "./connection-service.ts";

describe("server/services/connection-service.test.ts", () => {
  let opened: Awaited<ReturnType<typeof openServiceStore>>;
  let store: Store;
  const consentCalls: unknown[][] = [];

  // The consent flow is its own seam (consent-flow.test.ts); here it records what the service asked.
  const consent: Pick<ConsentFlow, "start" | "reconnect"> = {
    async start(tenantId, input) {
      consentCalls.push(["start", tenantId, input.userId, input.providerName, [...input.scopes], input.returnUrl]);
      await store.ensureTenant({ id: tenantId });
      const connection = await openConnection(store, { tenantId, userId: input.userId, providerName: input.providerName });
      return { connection, authUrl: "https://provider.example/authorize?x=1", authUrlExpiresAtMs: 1_700_000_600_999 };
    },
    async reconnect(tenantId, connectionId, input) {
      consentCalls.push(["reconnect", tenantId, connectionId, [...input.scopes], input.returnUrl]);
      const connection = await store.getConnection(tenantId, connectionId);
      return { connection, authUrl: "https://provider.example/authorize?again=1", authUrlExpiresAtMs: null };
    },
  };

  const client = (principal: Principal, withDeps = true) => {
    const vault = createVault(parseKeyring(generateKeyringText("k1")));
    const unused = () => {
      throw new Error("a connection without a credential needs no provider call");
    };
    const revoker = createConnectionRevoker({
      store,
      vault,
      providers: { getWithSecret: unused },
      oauth: {} as OAuthClient,
      logger: createLogger({ level: "silent" }),
    });
    const impl = createConnectionService({
      store,
      scope: createTenantScope({ store }),
      ...(withDeps && { consent, revoker }),
    });
    return serviceClient(ConnectionService, (router) => router.service(ConnectionService, impl), principal);
  };

  let idA = "";
  let idB = "";
  before(async () => {
    opened = await openServiceStore();
    store = opened.store;
    for (const tenantId of ["tenant-a", "tenant-b"]) await store.ensureTenant({ id: tenantId });
    idA = (await openConnection(store, { tenantId: "tenant-a", userId: "u1", providerName: "github", scopes: ["repo"] })).id;
    idB = (await openConnection(store, { tenantId: "tenant-b", userId: "u1", providerName: "github" })).id;
  });
  after(async () => {
    await opened.close();
  });

  test("GetConnection and CheckConnection: an agent reads its tenant's connection, metadata only", async () => {
    const { connection } = await client(agentOf("tenant-a")).getConnection({ connectionId: idA });
    assert.equal(connection?.connectionId, idA);
    assert.equal(connection?.tenantId, "tenant-a");
    assert.equal(connection?.status, ConnectionStatus.PENDING);
    assert.deepEqual(connection?.scopes, ["repo"]);
    assert.equal(connection?.credentialVersion, 0n);
    assert.ok((connection?.createTime?.seconds ?? 0n) > 0n);
    const checked = await client(agentOf("tenant-a")).checkConnection({ connectionId: idA });
    assert.equal(checked.status, ConnectionStatus.PENDING);
  });

  test("another tenant's connection looks missing to an agent; an admin reaches it by id", async () => {
    const err = await refusal(client(agentOf("tenant-a")).getConnection({ connectionId: idB }));
    assert.equal(err.code, Code.NotFound);
    assert.equal(reasonOf(err), ErrorReason.CONNECTION_NOT_FOUND);
    const missing = await refusal(client(ADMIN).checkConnection({ connectionId: "conn_nope" }));
    assert.equal(missing.code, Code.NotFound);
    const { connection } = await client(ADMIN).getConnection({ connectionId: idB });
    assert.equal(connection?.tenantId, "tenant-b");
  });

  test("an empty connection_id is InvalidArgument naming the field", async () => {
    const err = await refusal(client(ADMIN).getConnection({ connectionId: "" }));
    assert.equal(err.code, Code.InvalidArgument);
    assert.equal(reasonOf(err), ErrorReason.INVALID_FIELD);
  });

  test("ListConnections filters by the proto status and pages; an admin must name the tenant", async () => {
    const active = await openConnection(store, { tenantId: "tenant-a", userId: "u2", providerName: "github" });
    await transition(store, active, "active", null);
    const agent = client(agentOf("tenant-a"));
    const onlyActive = await agent.listConnections({ status: ConnectionStatus.ACTIVE });
    assert.deepEqual(
      onlyActive.connections.map((c) => c.connectionId),
      [active.id],
    );
    const first = await agent.listConnections({ pageSize: 1 });
    assert.equal(first.connections.length, 1);
    assert.notEqual(first.nextPageToken, "");
    const rest = await agent.listConnections({ pageSize: 10, pageToken: first.nextPageToken });
    assert.ok(rest.connections.every((c) => c.tenantId === "tenant-a"));
    const unknown = await refusal(agent.listConnections({ status: 99 as ConnectionStatus }));
    assert.equal(unknown.code, Code.InvalidArgument);
    const noTenant = await refusal(client(ADMIN).listConnections({}));
    assert.equal(noTenant.code, Code.InvalidArgument);
    const other = await refusal(agent.listConnections({ tenantId: "tenant-b" }));
    assert.equal(other.code, Code.PermissionDenied);
    assert.equal(reasonOf(other), ErrorReason.TENANT_NOT_ALLOWED);
  });

  test("RequestConnection hands the agent's own tenant to the consent flow and answers its link", async () => {
    consentCalls.length = 0;
    const res = await client(agentOf("tenant-a")).requestConnection({
      userId: "u9",
      providerName: "github",
      scopes: ["read:user"],
      returnUrl: "https://app.example/done",
    });
    assert.deepEqual(consentCalls, [["start", "tenant-a", "u9", "github", ["read:user"], "https://app.example/done"]]);
    assert.equal(res.status, ConnectionStatus.PENDING);
    assert.equal(res.authUrl, "https://provider.example/authorize?x=1");
    assert.equal(res.authUrlExpiresAt, 1_700_000_600n, "Unix seconds, rounded down");
    assert.equal((await store.getConnection("tenant-a", res.connectionId)).userId, "u9");
  });

  test("ReconnectConnection finds the connection's tenant for an admin; no link means expires_at 0", async () => {
    consentCalls.length = 0;
    const res = await client(ADMIN).reconnectConnection({ connectionId: idB, scopes: [], returnUrl: "" });
    assert.deepEqual(consentCalls, [["reconnect", "tenant-b", idB, [], ""]]);
    assert.equal(res.connectionId, idB);
    assert.equal(res.authUrlExpiresAt, 0n);
  });

  test("without a consent flow or revoker those calls are Unimplemented", async () => {
    const bare = client(ADMIN, false);
    for (const err of [
      await refusal(bare.requestConnection({ tenantId: "tenant-a", userId: "u", providerName: "github" })),
      await refusal(bare.reconnectConnection({ connectionId: idA })),
      await refusal(bare.revokeConnection({ connectionId: idA })),
    ]) {
      assert.equal(err.code, Code.Unimplemented);
      assert.equal(reasonOf(err), ErrorReason.NOT_IMPLEMENTED);
    }
  });

  test("RevokeConnection revokes through the table; again changes nothing; another tenant's is NotFound", async () => {
    const target = await openConnection(store, { tenantId: "tenant-a", userId: "u3", providerName: "github" });
    const refused = await refusal(client(agentOf("tenant-b")).revokeConnection({ connectionId: target.id }));
    assert.equal(refused.code, Code.NotFound);
    const agent = client(agentOf("tenant-a"));
    const res = await agent.revokeConnection({ connectionId: target.id });
    assert.equal(res.connection?.status, ConnectionStatus.REVOKED);
    assert.equal(res.connection?.statusReason, "revoked_by_api");
    assert.equal(res.providerRevoked, false, "no credential, so nothing to revoke at the provider");
    const again = await agent.revokeConnection({ connectionId: target.id });
    assert.equal(again.connection?.status, ConnectionStatus.REVOKED);
    assert.equal(again.connection?.updateTime?.seconds, res.connection?.updateTime?.seconds);
  });
});
