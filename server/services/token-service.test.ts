/**
 * TokenService at its seam: the handlers on an in-memory router transport over a real store, with
 * the real token reader, watch hub and credential watch; only the refresh engine is a fake (it hands
 * back the stored version). Strategy and credential translation, tenant scoping, the watch stream's
 * credential → status → end sequence, and the hooks that stop delivery to a revoked key.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code } from "@connectrpc/connect";
import { StrategyType } from "../../gen/nexus/v1/credential_pb.ts";
import { ErrorReason } from "../../gen/nexus/v1/errors_pb.ts";
import { ConnectionStatus } from "../../gen/nexus/v1/status_pb.ts";
import { TokenService } from "../../gen/nexus/v1/tokens_pb.ts";
import { ADMIN, agentOf, openServiceStore, reasonOf, refusal, serviceClient } from "../../test/support/service-rig.ts";
import { createTenantScope } from "../auth/tenant-scope.ts";
import { PermissionDeniedError } from "../domain/errors.ts";
import { openConnection, transition } from "../lifecycle/connection-transition.ts";
import type { Principal } from "../request/principal.ts";
import type { ConnectionRecord, JsonObject, Store } from "../store/store.ts";
import { createTokenReader } from "../tokens/token-reader.ts";
import type { UsageCredential } from "../tokens/usage-credential.ts";
import { createCredentialWatch } from "../watch/credential-watch.ts";
import { createPublishingStore } from "../watch/publishing-store.ts";
import { createWatchHub } from "../watch/watch-hub.ts";
import { createTokenService } from "./token-service.ts";

describe("server/services/token-service.test.ts", () => {
  let opened: Awaited<ReturnType<typeof openServiceStore>>;
  let store: Store;
  const sealed = (text: string) => ({ ciphertext: new Uint8Array(Buffer.from(text)), keyId: "k1" });
  const profile = {
    name: "acme-key",
    displayName: "Acme",
    category: "test",
    authType: "api_key",
    credentialSchema: { type: "object", properties: { api_key: { type: "string" } }, required: ["api_key"] },
    strategy: { type: "header", headerName: "X-Api-Key", credentialField: "api_key", valuePrefix: "" },
    urlParams: [],
  };
  // The engine's own seam is refresh-engine.test.ts: here it returns the stored version (ensure) or
  // the next one (force), with a key named after the version.
  const fresh = (version: number) => ({ version, secret: { kind: "fields" as const, fields: { api_key: `key-v${version}` } } });
  const engine = {
    ensureFresh: async (c: ConnectionRecord) => fresh(c.credentialVersion),
    forceRefresh: async (c: ConnectionRecord) => fresh(c.credentialVersion + 1),
    keepFresh: async () => {},
  };

  const delivered: number[] = [];
  let isKeyRevoked = false;
  const client = (principal: Principal) => {
    const hub = createWatchHub({ heartbeatMs: 0, now: Date.now });
    const publishing = createPublishingStore(store, (event) => hub.publish(event));
    const tokens = createTokenReader({ store: publishing, engine });
    const impl = createTokenService({
      tokens,
      scope: createTenantScope({ store }),
      store: publishing,
      watch: createCredentialWatch({ store: publishing, hub, engine, readCredential: tokens.readConnection }),
      assertMayReceive: () => {
        if (isKeyRevoked) throw new PermissionDeniedError("role", "the API key was revoked");
      },
      onCredentialDelivered: (_ctx, credential: UsageCredential) => delivered.push(credential.version),
    });
    return { rpc: serviceClient(TokenService, (router) => router.service(TokenService, impl), principal), store: publishing };
  };

  /** An active connection of `tenantId` holding credential version 1. */
  const activeConnection = async (tenantId: string): Promise<ConnectionRecord> => {
    const created = await openConnection(store, { tenantId, userId: "u1", providerName: "acme-key" });
    await store.saveCredential(created.id, 0, { secret: sealed("v1"), expiresAtSeconds: null });
    return transition(store, created, "active", null);
  };

  before(async () => {
    opened = await openServiceStore();
    store = opened.store;
    for (const tenantId of ["tenant-a", "tenant-b"]) await store.ensureTenant({ id: tenantId });
    await store.createProvider({ name: profile.name, profile: profile as unknown as JsonObject });
  });
  after(async () => {
    await opened.close();
  });

  test("GetToken answers the usage credential in the provider's strategy", async () => {
    const connection = await activeConnection("tenant-a");
    const { credential } = await client(agentOf("tenant-a")).rpc.getToken({ connectionId: connection.id });
    assert.equal(credential?.connectionId, connection.id);
    assert.equal(credential?.version, 1n);
    assert.equal(credential?.expiresAt, 0n, "entered keys do not expire");
    assert.equal(credential?.strategy?.type, StrategyType.HEADER);
    assert.deepEqual(credential?.credentials, { api_key: "key-v1" });
  });

  test("GetToken: another tenant's connection is NotFound, a pending one FailedPrecondition with its reason", async () => {
    const other = await activeConnection("tenant-b");
    const notFound = await refusal(client(agentOf("tenant-a")).rpc.getToken({ connectionId: other.id }));
    assert.equal(notFound.code, Code.NotFound);
    assert.equal(reasonOf(notFound), ErrorReason.CONNECTION_NOT_FOUND);
    const pending = await openConnection(store, { tenantId: "tenant-a", userId: "u2", providerName: "acme-key" });
    const notUsable = await refusal(client(ADMIN).rpc.getToken({ connectionId: pending.id }));
    assert.equal(notUsable.code, Code.FailedPrecondition);
    assert.equal(reasonOf(notUsable), ErrorReason.CONNECTION_PENDING);
    const empty = await refusal(client(ADMIN).rpc.getToken({ connectionId: "" }));
    assert.equal(empty.code, Code.InvalidArgument);
  });

  test("RefreshConnection answers what the engine's forced refresh returned", async () => {
    const connection = await activeConnection("tenant-a");
    const { credential } = await client(ADMIN).rpc.refreshConnection({ connectionId: connection.id });
    assert.equal(credential?.version, 2n);
    assert.deepEqual(credential?.credentials, { api_key: "key-v2" });
  });

  test("WatchCredentials: credential, each new version, then the revocation as a status and the end", async () => {
    delivered.length = 0;
    const connection = await activeConnection("tenant-a");
    const { rpc, store: publishing } = client(agentOf("tenant-a"));
    const stream = rpc.watchCredentials({ connectionId: connection.id })[Symbol.asyncIterator]();
    const first = await stream.next();
    assert.equal(first.value?.event.case, "credential");
    assert.equal(first.value?.event.value.version, 1n);
    await publishing.saveCredential(connection.id, 1, { secret: sealed("v2"), expiresAtSeconds: null });
    const second = await stream.next();
    assert.equal(second.value?.event.case === "credential" && second.value.event.value.version, 2n);
    await transition(publishing, await store.getConnection("tenant-a", connection.id), "revoked", "revoked_by_api");
    const status = await stream.next();
    assert.equal(status.value?.event.case, "status");
    const change = status.value?.event.case === "status" ? status.value.event.value : undefined;
    assert.equal(change?.status, ConnectionStatus.REVOKED);
    assert.equal(change?.reason, "revoked_by_api");
    const end = await refusal(stream.next());
    assert.equal(end.code, Code.FailedPrecondition);
    assert.equal(reasonOf(end), ErrorReason.CONNECTION_REVOKED);
    assert.deepEqual(delivered, [1, 2], "each delivered credential was reported (for the audit log)");
  });

  test("WatchCredentials delivers nothing once the key may no longer receive; a negative after_version is refused", async () => {
    delivered.length = 0;
    const connection = await activeConnection("tenant-a");
    isKeyRevoked = true;
    try {
      const err = await refusal(
        (async () => {
          for await (const _ of client(agentOf("tenant-a")).rpc.watchCredentials({ connectionId: connection.id })) {
            assert.fail("a message reached a revoked key");
          }
        })(),
      );
      assert.equal(err.code, Code.PermissionDenied);
      assert.deepEqual(delivered, []);
    } finally {
      isKeyRevoked = false;
    }
    const negative = await refusal(
      (async () => {
        for await (const _ of client(ADMIN).rpc.watchCredentials({ connectionId: connection.id, afterVersion: -1n })) {
          assert.fail("the stream opened");
        }
      })(),
    );
    assert.equal(negative.code, Code.InvalidArgument);
  });
});
