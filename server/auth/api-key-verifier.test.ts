import assert from "node:assert/strict";
import { test } from "node:test";
import type { ApiKeyRecord } from "../store/store.ts";
import { generateApiKeySecret, hashApiKeySecret, visiblePrefix } from "./api-key-secret.ts";
import { createApiKeyVerifier } from "./api-key-verifier.ts";

function fakeStore(records: ApiKeyRecord[]) {
  const calls = { find: 0, touched: [] as [string, number][] };
  return {
    calls,
    records,
    findApiKeyByHash: async (hash: string) => {
      calls.find += 1;
      return records.find((r) => r.secretHash === hash) ?? null;
    },
    markApiKeyUsed: async (id: string, at: number) => {
      calls.touched.push([id, at]);
    },
  };
}

function record(secret: string, extra: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  return {
    id: "key_1",
    prefix: visiblePrefix(secret),
    secretHash: hashApiKeySecret(secret),
    name: "k",
    role: "agent",
    tenantId: "acme",
    createdAtMs: 0,
    expiresAtMs: null,
    revokedAtMs: null,
    lastUsedAtMs: null,
    proxyRules: [],
    proxyOnly: false,
    ...extra,
  };
}

test("generated secrets: nxk_ + 43 base64url characters, prefix nxk_ + 8, SHA-256 hex hash", () => {
  const { secret, prefix, secretHash } = generateApiKeySecret();
  assert.match(secret, /^nxk_[A-Za-z0-9_-]{43}$/);
  assert.equal(prefix, secret.slice(0, 12));
  assert.match(secretHash, /^[0-9a-f]{64}$/);
  assert.notEqual(generateApiKeySecret().secret, secret);
  assert.equal(visiblePrefix("operator-chosen-secret-0123456789"), "oper", "operator keys show 4 characters only");
});

test("a valid key yields its principal; unknown, malformed, revoked and expired keys are refused", async () => {
  const { secret } = generateApiKeySecret();
  let now = 1_000;
  const store = fakeStore([record(secret, { expiresAtMs: 5_000 })]);
  const verifier = createApiKeyVerifier({ store, now: () => now });
  assert.deepEqual(await verifier.verify(secret), {
    ok: true,
    principal: { keyId: "key_1", role: "agent", tenantId: "acme", expiresAtMs: 5_000, proxyRules: [], canReadTokens: true },
  });
  assert.deepEqual(await verifier.verify(`${secret}x`), { ok: false, reason: "unknown" });
  assert.deepEqual(await verifier.verify("short"), { ok: false, reason: "malformed" });
  assert.deepEqual(await verifier.verify("x".repeat(600)), { ok: false, reason: "malformed" });
  now = 5_000;
  assert.deepEqual(await verifier.verify(secret), { ok: false, reason: "expired", keyId: "key_1" }, "expiry is checked even when cached");
  store.records[0] = record(secret, { revokedAtMs: 4_000 });
  verifier.forget("key_1");
  assert.deepEqual(await verifier.verify(secret), { ok: false, reason: "revoked", keyId: "key_1" });
});

test("verified keys are cached for cacheMs; last use is written at most once a minute", async () => {
  const { secret } = generateApiKeySecret();
  let now = 0;
  const store = fakeStore([record(secret)]);
  const verifier = createApiKeyVerifier({ store, now: () => now, cacheMs: 5_000 });
  for (let i = 0; i < 10; i++) await verifier.verify(secret);
  assert.equal(store.calls.find, 1);
  assert.equal(store.calls.touched.length, 1);
  // A revocation elsewhere (CLI, another replica) is seen once the cache entry runs out.
  store.records[0] = record(secret, { revokedAtMs: 1 });
  now = 4_999;
  assert.equal((await verifier.verify(secret)).ok, true);
  now = 5_000;
  assert.equal((await verifier.verify(secret)).ok, false);
  store.records[0] = record(secret);
  now = 61_000;
  await verifier.verify(secret);
  assert.equal(store.calls.touched.length, 2);
});

test("a revocation heard of (isRevoked) refuses a cached record at once, before any forget", async () => {
  const { secret } = generateApiKeySecret();
  const revoked = new Set<string>();
  const store = fakeStore([record(secret)]);
  const verifier = createApiKeyVerifier({ store, now: () => 0, cacheMs: 60_000, isRevoked: (id) => revoked.has(id) });
  assert.equal((await verifier.verify(secret)).ok, true);
  revoked.add("key_1");
  assert.deepEqual(await verifier.verify(secret), { ok: false, reason: "revoked", keyId: "key_1" });
  assert.equal(store.calls.find, 1, "answered from the cache and the revocation set");
});

test("with cacheMs 0 every request reads the store; unknown keys are never cached", async () => {
  const { secret } = generateApiKeySecret();
  const store = fakeStore([]);
  const verifier = createApiKeyVerifier({ store, now: () => 0, cacheMs: 0 });
  assert.equal((await verifier.verify(secret)).ok, false);
  store.records.push(record(secret));
  assert.equal((await verifier.verify(secret)).ok, true, "a key created a moment ago works at once");
  await verifier.verify(secret);
  assert.equal(store.calls.find, 3);
});

test("verifyCached decides at once from the cache only: same verdicts as verify, undefined when the store must be read", async () => {
  const { secret } = generateApiKeySecret();
  let now = 0;
  const revoked = new Set<string>();
  const store = fakeStore([record(secret, { expiresAtMs: 9_000 })]);
  const verifier = createApiKeyVerifier({ store, now: () => now, cacheMs: 5_000, isRevoked: (id) => revoked.has(id) });
  assert.deepEqual(verifier.verifyCached("short"), { ok: false, reason: "malformed" });
  assert.equal(verifier.verifyCached(secret), undefined, "not cached yet: the store must be read");
  assert.equal(store.calls.find, 0, "verifyCached never reads the store");
  const read = await verifier.verify(secret);
  const cached = verifier.verifyCached(secret);
  assert.deepEqual(cached, read);
  assert.ok(cached?.ok === true && read.ok === true && cached.principal === read.principal, "one principal per cached record");
  assert.equal(store.calls.find, 1);
  revoked.add("key_1");
  assert.deepEqual(verifier.verifyCached(secret), { ok: false, reason: "revoked", keyId: "key_1" }, "a revocation heard of wins at once");
  revoked.clear();
  verifier.forget("key_1");
  assert.equal(verifier.verifyCached(secret), undefined, "forget drops the cached record");
  await verifier.verify(secret);
  now = 5_000;
  assert.equal(verifier.verifyCached(secret), undefined, "an entry past cacheMs is re-read");
  await verifier.verify(secret);
  now = 9_000;
  assert.deepEqual(verifier.verifyCached(secret), { ok: false, reason: "expired", keyId: "key_1" });
  assert.equal(verifier.verifyCached(`${secret}x`), undefined, "an unknown key is never cached");
});
