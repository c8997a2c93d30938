/**
 * Conformance cases for API keys: lookup by secret hash, uniqueness, tenant references, listing,
 * idempotent revocation and last-use tracking.
 */
import assert from "node:assert/strict";
import { AlreadyExistsError, NotFoundError } from "../../domain/errors.ts";
import type { ApiKeyInput, ApiKeyRecord } from "../store.ts";
import { assertRejectsWith, collectPages, START_TIME_MS, type StoreHarness } from "./harness.ts";

function agentKey(n: number, tenantId: string): ApiKeyInput {
  return { prefix: `nxk_${n}`, secretHash: `hash-${n}`, name: `agent ${n}`, role: "agent", tenantId };
}

/** Declares the API key cases. */
export function describeApiKeyCases(h: StoreHarness): void {
  h.test("proxy rules and proxy-only round-trip in order, on every read", async () => {
    await h.store().ensureTenant({ id: "tenant-p" });
    const proxyRules = [
      { provider: "github", methods: ["GET", "HEAD"], path: "/repos/**" },
      { provider: "github", methods: ["POST"], path: "/repos/*/*/issues" },
      { provider: "slack", methods: ["*"], path: "/api/chat.postMessage" },
    ];
    const created = await h.store().createApiKey({ ...agentKey(7, "tenant-p"), proxyRules, proxyOnly: true });
    assert.deepEqual(created.proxyRules, proxyRules);
    assert.equal(created.proxyOnly, true);
    assert.deepEqual(await h.store().getApiKey(created.id), created);
    assert.deepEqual(await h.store().findApiKeyByHash("hash-7"), created);
    const listed = await h.store().listApiKeys({ tenantId: "tenant-p" }, {});
    assert.deepEqual(listed.items, [created]);
    const revoked = await h.store().revokeApiKey(created.id);
    assert.deepEqual([revoked.proxyRules, revoked.proxyOnly], [proxyRules, true]);
  });

  h.test("createApiKey and findApiKeyByHash round-trip", async () => {
    await h.store().ensureTenant({ id: "tenant-a" });
    const created = await h.store().createApiKey({ ...agentKey(1, "tenant-a"), expiresAtMs: START_TIME_MS + 86_400_000 });
    assert.match(created.id, /^key_[A-Za-z0-9_-]{22,}$/);
    assert.deepEqual(created, {
      id: created.id,
      prefix: "nxk_1",
      secretHash: "hash-1",
      name: "agent 1",
      role: "agent",
      tenantId: "tenant-a",
      createdAtMs: START_TIME_MS,
      expiresAtMs: START_TIME_MS + 86_400_000,
      revokedAtMs: null,
      lastUsedAtMs: null,
      proxyRules: [],
      proxyOnly: false,
    });
    assert.deepEqual(await h.store().findApiKeyByHash("hash-1"), created);
    assert.deepEqual(await h.store().getApiKey(created.id), created);
    const admin = await h.store().createApiKey({
      id: "key_admin",
      prefix: "nxk_a",
      secretHash: "hash-admin",
      name: "bootstrap",
      role: "admin",
      tenantId: null,
    });
    assert.equal(admin.id, "key_admin");
    assert.equal(admin.tenantId, null);
    assert.equal(admin.expiresAtMs, null);
  });

  h.test("findApiKeyByHash of an unknown hash is null", async () => {
    assert.equal(await h.store().findApiKeyByHash("hash-unknown"), null);
  });

  h.test("createApiKey with a taken hash or id is AlreadyExists", async () => {
    await h.store().ensureTenant({ id: "tenant-a" });
    const first = await h.store().createApiKey(agentKey(1, "tenant-a"));
    await assertRejectsWith(h.store().createApiKey(agentKey(1, "tenant-a")), AlreadyExistsError, (error) => {
      assert.equal(error.kind, "api_key");
      assert.ok(!error.message.includes("hash-1"), "the colliding hash is not echoed");
    });
    await assertRejectsWith(h.store().createApiKey({ ...agentKey(2, "tenant-a"), id: first.id }), AlreadyExistsError);
  });

  h.test("createApiKey for a missing tenant is NotFound(tenant)", async () => {
    await assertRejectsWith(h.store().createApiKey(agentKey(1, "ghost")), NotFoundError, (error) => assert.equal(error.kind, "tenant"));
  });

  h.test("getApiKey of a missing key is NotFound", async () => {
    await assertRejectsWith(h.store().getApiKey("key_missing"), NotFoundError, (error) => assert.equal(error.kind, "api_key"));
  });

  h.test("listApiKeys filters by tenant and pages newest first", async () => {
    await h.store().ensureTenant({ id: "tenant-a" });
    await h.store().ensureTenant({ id: "tenant-b" });
    const inA: ApiKeyRecord[] = [];
    for (let n = 0; n < 7; n++) {
      if (n % 2 === 0) h.clock.advance(1);
      inA.push(await h.store().createApiKey(agentKey(n, "tenant-a")));
      await h.store().createApiKey(agentKey(100 + n, "tenant-b"));
    }
    const { items, pages } = await collectPages(3, (pageToken) =>
      h.store().listApiKeys({ tenantId: "tenant-a" }, { pageSize: 3, pageToken }),
    );
    assert.equal(pages, 3);
    assert.deepEqual(new Set(items.map((k) => k.id)), new Set(inA.map((k) => k.id)));
    assert.equal(items.length, 7);
    assert.ok(items.every((k) => k.tenantId === "tenant-a"));
    assert.ok((items[0]?.createdAtMs ?? 0) >= (items.at(-1)?.createdAtMs ?? 0), "newest first");
    assert.equal((await h.store().listApiKeys({}, { pageSize: 500 })).items.length, 14);
  });

  h.test("revokeApiKey sets the time once and is idempotent", async () => {
    await h.store().ensureTenant({ id: "tenant-a" });
    const key = await h.store().createApiKey(agentKey(1, "tenant-a"));
    h.clock.advance(1000);
    const revoked = await h.store().revokeApiKey(key.id);
    assert.equal(revoked.revokedAtMs, START_TIME_MS + 1000);
    h.clock.advance(1000);
    assert.equal((await h.store().revokeApiKey(key.id)).revokedAtMs, START_TIME_MS + 1000);
    assert.equal((await h.store().findApiKeyByHash("hash-1"))?.revokedAtMs, START_TIME_MS + 1000);
    await assertRejectsWith(h.store().revokeApiKey("key_missing"), NotFoundError);
  });

  h.test("markApiKeyUsed keeps the latest use", async () => {
    await h.store().ensureTenant({ id: "tenant-a" });
    const key = await h.store().createApiKey(agentKey(1, "tenant-a"));
    await h.store().markApiKeyUsed(key.id, START_TIME_MS + 500);
    await h.store().markApiKeyUsed(key.id, START_TIME_MS + 100);
    assert.equal((await h.store().getApiKey(key.id)).lastUsedAtMs, START_TIME_MS + 500);
    await assertRejectsWith(h.store().markApiKeyUsed("key_missing", START_TIME_MS), NotFoundError);
  });
}
