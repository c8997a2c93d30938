/**
 * ApiKeyService and AuditService at their seam: the handlers on an in-memory router transport over
 * a real store and the real key manager. The secret appears once and never the hash; role and time
 * fields are checked; a revocation tells the process before the write and after it, and tells of a
 * failed write; audit filters reach the store and bad ones are refused with the field named.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { ApiKeyService, Role } from "../../gen/nexus/v1/api_keys_pb.ts";
import { AuditService } from "../../gen/nexus/v1/audit_pb.ts";
import { ErrorReason } from "../../gen/nexus/v1/errors_pb.ts";
import { ADMIN, openServiceStore, reasonOf, refusal, serviceClient } from "../../test/support/service-rig.ts";
import { createApiKeyManager } from "../auth/api-key-manager.ts";
import type { Store } from "../store/store.ts";
import { createApiKeyService, createAuditService } from "./admin-services.ts";

describe("server/services/admin-services.test.ts", () => {
  let opened: Awaited<ReturnType<typeof openServiceStore>>;
  let store: Store;
  const NOW_MS = 1_750_000_000_000;
  const told: string[] = [];

  const keysClient = () => {
    const impl = createApiKeyService({
      keys: createApiKeyManager({ store, now: () => NOW_MS }),
      willRevoke: (keyId) => told.push(`will revoke ${keyId}`),
      revokeFailed: (keyId, err) => told.push(`revoke failed ${keyId}: ${(err as Error).name}`),
      onRevoked: async (keyId) => {
        // By now the store holds the revocation.
        const [stored] = (await store.listApiKeys({}, { pageSize: 100, pageToken: "" })).items.filter((k) => k.id === keyId);
        told.push(`revoked ${keyId} (stored: ${stored?.revokedAtMs !== null})`);
      },
    });
    return serviceClient(ApiKeyService, (router) => router.service(ApiKeyService, impl), ADMIN);
  };
  const auditClient = () => serviceClient(AuditService, (router) => router.service(AuditService, createAuditService({ store })), ADMIN);

  before(async () => {
    opened = await openServiceStore();
    store = opened.store;
    await store.ensureTenant({ id: "tenant-a" });
  });
  after(async () => {
    await opened.close();
  });

  test("CreateApiKey answers the secret once; ListApiKeys shows metadata only", async () => {
    const keys = keysClient();
    const created = await keys.createApiKey({
      name: "agent a",
      role: Role.AGENT,
      tenantId: "tenant-a",
      expireTime: timestampFromMs(NOW_MS + 86_400_000),
    });
    assert.match(created.secret, /^nxk_/);
    assert.equal(created.apiKey?.role, Role.AGENT);
    assert.equal(created.apiKey?.tenantId, "tenant-a");
    assert.ok(created.secret.startsWith(created.apiKey?.prefix ?? "?"), "the prefix is the secret's start");
    assert.equal(created.apiKey?.expireTime?.seconds, BigInt((NOW_MS + 86_400_000) / 1000));
    assert.equal(created.apiKey?.revokeTime, undefined);
    const listed = await keys.listApiKeys({ tenantId: "tenant-a" });
    assert.deepEqual(
      listed.apiKeys.map((k) => k.keyId),
      [created.apiKey?.keyId],
    );
    const text = JSON.stringify(listed, (_k, v) => (typeof v === "bigint" ? String(v) : v));
    assert.ok(!text.includes(created.secret.slice(12)), "no secret in a listing");
  });

  test("CreateApiKey refuses an unspecified role and an out-of-range expire_time, naming the field", async () => {
    const keys = keysClient();
    const noRole = await refusal(keys.createApiKey({ name: "x", role: Role.UNSPECIFIED }));
    assert.equal(noRole.code, Code.InvalidArgument);
    assert.equal(reasonOf(noRole), ErrorReason.INVALID_FIELD);
    assert.match(noRole.rawMessage, /role/);
    const badTime = await refusal(
      keys.createApiKey({ name: "x", role: Role.ADMIN, expireTime: { seconds: 253_402_300_800n, nanos: 0 } as never }),
    );
    assert.equal(badTime.code, Code.InvalidArgument);
    assert.match(badTime.rawMessage, /expire_time/);
  });

  test("RevokeApiKey tells the process before the write and after it; a missing key is NotFound and reported", async () => {
    const keys = keysClient();
    const created = await keys.createApiKey({ name: "to revoke", role: Role.ADMIN });
    const keyId = created.apiKey?.keyId ?? "";
    told.length = 0;
    const revoked = await keys.revokeApiKey({ keyId });
    assert.ok(revoked.apiKey?.revokeTime !== undefined, "the answer shows the revocation time");
    assert.deepEqual(told, [`will revoke ${keyId}`, `revoked ${keyId} (stored: true)`]);
    told.length = 0;
    const missing = await refusal(keys.revokeApiKey({ keyId: "key_missing" }));
    assert.equal(missing.code, Code.NotFound);
    assert.equal(reasonOf(missing), ErrorReason.API_KEY_NOT_FOUND);
    assert.deepEqual(told, ["will revoke key_missing", "revoke failed key_missing: NotFoundError"]);
  });

  test("ListAuditEvents passes every filter to the store and maps rows; bad filters are InvalidArgument", async () => {
    await store.appendAuditEvents([
      { timeMs: NOW_MS - 2_000, action: "token.read", result: "ok", keyId: "key_1", tenantId: "tenant-a", connectionId: "conn_1" },
      { timeMs: NOW_MS - 1_000, action: "token.read", result: "ok", keyId: "key_2", tenantId: "tenant-a", connectionId: "conn_2" },
      { timeMs: NOW_MS, action: "connection.revoke", result: "ok", keyId: "key_1", tenantId: "tenant-a", details: { reason: "x" } },
    ]);
    const audit = auditClient();
    const byKey = await audit.listAuditEvents({ keyId: "key_1", action: "token.read" });
    assert.deepEqual(
      byKey.events.map((e) => [e.action, e.connectionId, e.keyId]),
      [["token.read", "conn_1", "key_1"]],
    );
    const inRange = await audit.listAuditEvents({
      tenantId: "tenant-a",
      startTime: timestampFromMs(NOW_MS - 1_000),
      endTime: timestampFromMs(NOW_MS + 1),
    });
    assert.deepEqual(inRange.events.map((e) => e.action).sort(), ["connection.revoke", "token.read"]);
    const revoke = inRange.events.find((e) => e.action === "connection.revoke");
    assert.deepEqual(revoke?.details, { reason: "x" });
    assert.equal(revoke?.requestId, "", "absent facts are empty strings");
    const badAction = await refusal(audit.listAuditEvents({ action: "DROP TABLE" }));
    assert.equal(badAction.code, Code.InvalidArgument);
    assert.match(badAction.rawMessage, /action/);
    const badTime = await refusal(audit.listAuditEvents({ startTime: { seconds: -1n, nanos: 0 } as never }));
    assert.equal(badTime.code, Code.InvalidArgument);
    assert.match(badTime.rawMessage, /start_time/);
  });
});
