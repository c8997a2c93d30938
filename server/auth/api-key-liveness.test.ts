import assert from "node:assert/strict";
import { test } from "node:test";
import { NotFoundError } from "../domain/errors.ts";
import type { ApiKeyRecord } from "../store/store.ts";
import { createApiKeyLiveness, type KeyInvalidReason } from "./api-key-liveness.ts";

const agent = (keyId: string, expiresAtMs: number | null = null) => ({
  keyId,
  role: "agent" as const,
  tenantId: "acme",
  expiresAtMs,
  proxyRules: [],
  canReadTokens: true,
});

function keyRecord(id: string, revokedAtMs: number | null): ApiKeyRecord {
  return {
    id,
    prefix: "nxk_x",
    secretHash: "h",
    name: "k",
    role: "agent",
    tenantId: "acme",
    createdAtMs: 0,
    expiresAtMs: null,
    revokedAtMs,
    lastUsedAtMs: null,
    proxyRules: [],
    proxyOnly: false,
  };
}

const quietLogger = {
  warnings: [] as unknown[],
  warn(...args: unknown[]) {
    this.warnings.push(args);
  },
};

test("a revocation ends every stream of that key once, and only that key's; later checks refuse it", () => {
  const forgotten: string[] = [];
  const liveness = createApiKeyLiveness({
    store: { getApiKey: async (id) => keyRecord(id, null) },
    now: () => 0,
    logger: quietLogger,
    recheckMs: 0,
    onRevoked: (id) => forgotten.push(id),
  });
  const ended: [string, KeyInvalidReason][] = [];
  liveness.track(agent("key_a"), (r) => ended.push(["a1", r]));
  liveness.track(agent("key_a"), (r) => ended.push(["a2", r]));
  const untrackB = liveness.track(agent("key_b"), (r) => ended.push(["b", r]));
  assert.equal(liveness.check(agent("key_a")), null);
  liveness.revoked("key_a");
  liveness.revoked("key_a");
  assert.deepEqual(ended, [
    ["a1", "revoked"],
    ["a2", "revoked"],
  ]);
  assert.deepEqual(forgotten, ["key_a", "key_a"], "the verifier forgets it every time it is announced");
  assert.equal(liveness.check(agent("key_a")), "revoked");
  assert.equal(liveness.isRevoked("key_a"), true);
  assert.equal(liveness.check(agent("key_b")), null);
  assert.equal(liveness.trackedKeyCount(), 1);
  untrackB();
  assert.equal(liveness.trackedKeyCount(), 0);
  liveness.close();
});

test("a key's streams end when its expires_at passes (timer), and checks refuse it from then on", async () => {
  const liveness = createApiKeyLiveness({
    store: { getApiKey: async (id) => keyRecord(id, null) },
    now: Date.now,
    logger: quietLogger,
    recheckMs: 0,
  });
  const expiresAtMs = Date.now() + 50;
  const reason = await new Promise<KeyInvalidReason>((resolve) => liveness.track(agent("key_e", expiresAtMs), resolve));
  assert.equal(reason, "expired");
  assert.ok(Date.now() >= expiresAtMs, "not before its time");
  assert.equal(liveness.check(agent("key_e", expiresAtMs)), "expired");
  assert.equal(liveness.trackedKeyCount(), 0);
  liveness.close();
});

test("expiry is judged by the injected clock: a key past it is refused before any timer runs", () => {
  let now = 1_000;
  const liveness = createApiKeyLiveness({
    store: { getApiKey: async (id) => keyRecord(id, null) },
    now: () => now,
    logger: quietLogger,
    recheckMs: 0,
  });
  assert.equal(liveness.check(agent("key_c", 2_000)), null);
  now = 2_000;
  assert.equal(liveness.check(agent("key_c", 2_000)), "expired");
  assert.equal(liveness.check(agent("key_c", null)), null, "a key without expiry never expires");
  liveness.close();
});

test("recheck: a key revoked or deleted in the store ends its streams; a failing store ends nothing", async () => {
  const revokedInStore = new Set<string>(["key_r"]);
  const logger = {
    warnings: [] as unknown[],
    warn(...args: unknown[]) {
      this.warnings.push(args);
    },
  };
  const liveness = createApiKeyLiveness({
    store: {
      getApiKey: async (id) => {
        if (id === "key_gone") throw new NotFoundError("api_key", id);
        if (id === "key_down") throw new Error("connection refused");
        return keyRecord(id, revokedInStore.has(id) ? 1 : null);
      },
    },
    now: () => 0,
    logger,
    recheckMs: 0,
  });
  const ended = new Map<string, KeyInvalidReason>();
  for (const id of ["key_r", "key_gone", "key_down", "key_ok"]) liveness.track(agent(id), (r) => ended.set(id, r));
  await liveness.recheck();
  assert.deepEqual([...ended.entries()].sort(), [
    ["key_gone", "revoked"],
    ["key_r", "revoked"],
  ]);
  assert.equal(logger.warnings.length, 1, "the store failure is logged");
  assert.equal(liveness.trackedKeyCount(), 2);
  liveness.close();
});
