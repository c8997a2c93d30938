/**
 * Conformance cases for sealed secrets: credential versions (compare-and-set, never reused), the
 * connection fields a save updates, and single-use, expiring OAuth consent states.
 */
import assert from "node:assert/strict";
import { ConflictError, NotFoundError } from "../../domain/errors.ts";
import type { ConsentStateInput } from "../store.ts";
import { assertRejectsWith, hexOf, START_TIME_MS, type StoreHarness, sealed, seedConnection } from "./harness.ts";

const STATE_HASH = "a".repeat(64);

/** Declares the credential and consent-state cases. */
export function describeCredentialCases(h: StoreHarness): void {
  h.test("getConnectionForToken reads the connection, its credential and the provider's profile text at once", async () => {
    const connection = await seedConnection(h.store(), "tenant-a", { providerName: "token-read" });
    const before = await h.store().getConnectionForToken("tenant-a", connection.id);
    assert.deepEqual(before, { connection, credential: null, providerProfileJson: null });

    await h.store().createProvider({ name: "token-read", profile: { strategy: { type: "bearer" }, scopes: ["a"] } });
    await h.store().saveCredential(connection.id, 0, { secret: sealed("tokens-1"), expiresAtSeconds: 100 });
    const read = await h.store().getConnectionForToken("tenant-a", connection.id);
    assert.deepEqual(read.connection, await h.store().getConnection("tenant-a", connection.id));
    assert.deepEqual(read.credential, await h.store().getCredential(connection.id));
    assert.equal(hexOf(read.credential?.secret), hexOf(sealed("tokens-1")));
    assert.deepEqual(JSON.parse(read.providerProfileJson ?? "null"), { strategy: { type: "bearer" }, scopes: ["a"] });

    // A provider update shows in the text (how GetToken knows its parsed strategy is stale).
    await h.store().updateProvider("token-read", { profile: { strategy: { type: "header", name: "x-key" } } });
    const updated = await h.store().getConnectionForToken("tenant-a", connection.id);
    assert.notEqual(updated.providerProfileJson, read.providerProfileJson);
    assert.deepEqual(JSON.parse(updated.providerProfileJson ?? "null"), { strategy: { type: "header", name: "x-key" } });
  });

  h.test("getConnectionForToken of another tenant's or a missing connection is NotFound", async () => {
    const own = await seedConnection(h.store(), "tenant-a");
    await h.store().ensureTenant({ id: "tenant-b" });
    for (const [tenantId, id] of [
      ["tenant-b", own.id],
      ["tenant-a", "conn_missing"],
    ] as const) {
      await assertRejectsWith(h.store().getConnectionForToken(tenantId, id), NotFoundError, (error) => {
        assert.equal(error.kind, "connection");
        assert.equal(error.id, id);
      });
    }
  });

  h.test("getCredential is null before the first save", async () => {
    const connection = await seedConnection(h.store(), "tenant-a");
    assert.equal(await h.store().getCredential(connection.id), null);
  });

  h.test("saveCredential at version 0 stores version 1 and updates the connection", async () => {
    const connection = await seedConnection(h.store(), "tenant-a");
    h.clock.advance(100);
    const saved = await h.store().saveCredential(connection.id, 0, {
      secret: sealed("tokens-1"),
      expiresAtSeconds: 1_700_003_600,
      nextRefreshAtMs: START_TIME_MS + 3_000_000,
    });
    assert.equal(saved.version, 1);
    assert.equal(saved.connectionId, connection.id);
    assert.equal(saved.expiresAtSeconds, 1_700_003_600);
    assert.equal(saved.updatedAtMs, START_TIME_MS + 100);
    const read = await h.store().getCredential(connection.id);
    assert.equal(hexOf(read?.secret), hexOf(sealed("tokens-1")));
    assert.equal(read?.secret.keyId, "key-1");
    assert.equal(read?.version, 1);
    const after = await h.store().getConnection("tenant-a", connection.id);
    assert.equal(after.credentialVersion, 1);
    assert.equal(after.credentialExpiresAtSeconds, 1_700_003_600);
    assert.equal(after.nextRefreshAtMs, START_TIME_MS + 3_000_000);
    assert.equal(after.updatedAtMs, START_TIME_MS + 100);
  });

  h.test("saveCredential replaces the credential and increments the version", async () => {
    const connection = await seedConnection(h.store(), "tenant-a");
    await h.store().saveCredential(connection.id, 0, { secret: sealed("one"), expiresAtSeconds: 10, nextRefreshAtMs: 5 });
    const second = await h.store().saveCredential(connection.id, 1, {
      secret: sealed("two", "key-2"),
      expiresAtSeconds: null,
    });
    assert.equal(second.version, 2);
    assert.equal(second.expiresAtSeconds, null);
    const read = await h.store().getCredential(connection.id);
    assert.equal(hexOf(read?.secret), hexOf(sealed("two")));
    assert.equal(read?.secret.keyId, "key-2");
    const after = await h.store().getConnection("tenant-a", connection.id);
    assert.equal(after.credentialExpiresAtSeconds, null);
    assert.equal(after.nextRefreshAtMs, 5, "an absent nextRefreshAtMs keeps the current value");
  });

  h.test("saveCredential with a stale version is a Conflict and keeps the stored credential", async () => {
    const connection = await seedConnection(h.store(), "tenant-a");
    await h.store().saveCredential(connection.id, 0, { secret: sealed("one"), expiresAtSeconds: 10 });
    for (const stale of [0, 2]) {
      await assertRejectsWith(
        h.store().saveCredential(connection.id, stale, { secret: sealed("late"), expiresAtSeconds: 20 }),
        ConflictError,
        (error) => assert.equal(error.kind, "version"),
      );
    }
    const read = await h.store().getCredential(connection.id);
    assert.equal(hexOf(read?.secret), hexOf(sealed("one")));
    assert.equal(read?.version, 1);
    assert.equal((await h.store().getConnection("tenant-a", connection.id)).credentialExpiresAtSeconds, 10);
  });

  h.test("saveCredential for a missing connection is NotFound", async () => {
    await assertRejectsWith(
      h.store().saveCredential("conn_missing", 0, { secret: sealed("x"), expiresAtSeconds: null }),
      NotFoundError,
      (error) => assert.equal(error.kind, "connection"),
    );
  });

  h.test("concurrent saveCredential calls at one version: exactly one wins", async () => {
    const connection = await seedConnection(h.store(), "tenant-a");
    const results = await Promise.allSettled(
      ["a", "b", "c"].map((text) => h.store().saveCredential(connection.id, 0, { secret: sealed(text), expiresAtSeconds: null })),
    );
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    for (const r of results) {
      if (r.status === "rejected") assert.ok(r.reason instanceof ConflictError, String(r.reason));
    }
    assert.equal((await h.store().getCredential(connection.id))?.version, 1);
  });

  h.test("deleteCredential removes the credential and versions keep increasing", async () => {
    const connection = await seedConnection(h.store(), "tenant-a");
    await h.store().saveCredential(connection.id, 0, { secret: sealed("one"), expiresAtSeconds: 10, nextRefreshAtMs: 5 });
    await h.store().saveCredential(connection.id, 1, { secret: sealed("two"), expiresAtSeconds: 20 });
    await h.store().deleteCredential(connection.id);
    assert.equal(await h.store().getCredential(connection.id), null);
    const after = await h.store().getConnection("tenant-a", connection.id);
    assert.equal(after.credentialVersion, 2, "the version survives deletion");
    assert.equal(after.credentialExpiresAtSeconds, null);
    assert.equal(after.nextRefreshAtMs, null);
    await assertRejectsWith(h.store().saveCredential(connection.id, 0, { secret: sealed("three"), expiresAtSeconds: null }), ConflictError);
    const third = await h.store().saveCredential(connection.id, 2, { secret: sealed("three"), expiresAtSeconds: null });
    assert.equal(third.version, 3);
  });

  h.test("deleteCredential without a credential or connection is a no-op", async () => {
    const connection = await seedConnection(h.store(), "tenant-a");
    await h.store().deleteCredential(connection.id);
    await h.store().deleteCredential("conn_missing");
    assert.equal((await h.store().getConnection("tenant-a", connection.id)).credentialVersion, 0);
  });

  h.test("consumeConsentState returns the state once, then null", async () => {
    const connection = await seedConnection(h.store(), "tenant-a");
    const input: ConsentStateInput = {
      stateHash: STATE_HASH,
      connectionId: connection.id,
      secrets: sealed("verifier+nonce"),
      returnUrl: "https://app.example/done",
      expiresAtMs: START_TIME_MS + 600_000,
    };
    const created = await h.store().createConsentState(input);
    assert.equal(created.usedAtMs, null);
    assert.equal(created.createdAtMs, START_TIME_MS);
    const usedAt = START_TIME_MS + 30_000;
    const consumed = await h.store().consumeConsentState(STATE_HASH, usedAt);
    assert.ok(consumed);
    assert.equal(consumed.connectionId, connection.id);
    assert.equal(consumed.returnUrl, "https://app.example/done");
    assert.equal(consumed.expiresAtMs, input.expiresAtMs);
    assert.equal(consumed.usedAtMs, usedAt);
    assert.equal(hexOf(consumed.secrets), hexOf(sealed("verifier+nonce")));
    assert.equal(consumed.secrets?.keyId, "key-1");
    assert.equal(await h.store().consumeConsentState(STATE_HASH, usedAt + 1), null);
  });

  h.test("findConsentState reads a state without using it, and after use shows usedAtMs", async () => {
    const connection = await seedConnection(h.store(), "tenant-a");
    await h.store().createConsentState({
      stateHash: STATE_HASH,
      connectionId: connection.id,
      secrets: null,
      returnUrl: "https://app.example/done",
      expiresAtMs: START_TIME_MS + 600_000,
    });
    const found = await h.store().findConsentState(STATE_HASH);
    assert.equal(found?.connectionId, connection.id);
    assert.equal(found?.usedAtMs, null);
    assert.ok(await h.store().consumeConsentState(STATE_HASH, START_TIME_MS + 5), "finding did not use it");
    assert.equal((await h.store().findConsentState(STATE_HASH))?.usedAtMs, START_TIME_MS + 5);
    assert.equal(await h.store().findConsentState("e".repeat(64)), null);
  });

  h.test("consumeConsentState of an expired or unknown state is null", async () => {
    const connection = await seedConnection(h.store(), "tenant-a");
    const expiresAtMs = START_TIME_MS + 1000;
    const base = { connectionId: connection.id, secrets: null, returnUrl: null, expiresAtMs };
    await h.store().createConsentState({ ...base, stateHash: "b".repeat(64) });
    await h.store().createConsentState({ ...base, stateHash: "c".repeat(64) });
    assert.equal(await h.store().consumeConsentState("b".repeat(64), expiresAtMs), null, "expiry is exclusive");
    const justInTime = await h.store().consumeConsentState("c".repeat(64), expiresAtMs - 1);
    assert.equal(justInTime?.secrets, null);
    assert.equal(await h.store().consumeConsentState("d".repeat(64), START_TIME_MS), null);
  });

  h.test("concurrent consumeConsentState calls: exactly one gets the state", async () => {
    const connection = await seedConnection(h.store(), "tenant-a");
    await h.store().createConsentState({
      stateHash: STATE_HASH,
      connectionId: connection.id,
      secrets: sealed("v"),
      returnUrl: null,
      expiresAtMs: START_TIME_MS + 600_000,
    });
    const results = await Promise.all([1, 2, 3, 4].map((i) => h.store().consumeConsentState(STATE_HASH, START_TIME_MS + i)));
    assert.equal(results.filter((r) => r !== null).length, 1);
  });

  h.test("createConsentState for a missing connection is NotFound", async () => {
    const creating = h.store().createConsentState({
      stateHash: STATE_HASH,
      connectionId: "conn_missing",
      secrets: null,
      returnUrl: null,
      expiresAtMs: START_TIME_MS + 1000,
    });
    await assertRejectsWith(creating, NotFoundError, (error) => assert.equal(error.kind, "connection"));
  });

  h.test("pruneConsentStates deletes only states expired before the cut-off", async () => {
    const connection = await seedConnection(h.store(), "tenant-a");
    const base = { connectionId: connection.id, secrets: null, returnUrl: null };
    await h.store().createConsentState({ ...base, stateHash: "1".repeat(64), expiresAtMs: START_TIME_MS + 10 });
    await h.store().createConsentState({ ...base, stateHash: "2".repeat(64), expiresAtMs: START_TIME_MS + 20 });
    await h.store().createConsentState({ ...base, stateHash: "3".repeat(64), expiresAtMs: START_TIME_MS + 30 });
    assert.equal(await h.store().pruneConsentStates(START_TIME_MS + 20), 1);
    assert.equal(await h.store().consumeConsentState("1".repeat(64), START_TIME_MS), null);
    assert.ok(await h.store().consumeConsentState("2".repeat(64), START_TIME_MS));
    assert.ok(await h.store().consumeConsentState("3".repeat(64), START_TIME_MS));
  });
}
