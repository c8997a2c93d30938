/**
 * Conformance cases for key rotation support: stale sealed values of every kind are found, swapped
 * only while unchanged (a concurrent writer wins), and counted by key id.
 */
import assert from "node:assert/strict";
import { hexOf, START_TIME_MS, type StoreHarness, sealed, seedConnection } from "./harness.ts";

/** Declares the sealed-value cases. */
export function describeSealedCases(h: StoreHarness): void {
  h.test("listStaleSealed finds credentials, consent secrets and client secrets under old keys", async () => {
    const store = h.store();
    const a = await seedConnection(store, "tenant-a");
    const b = await seedConnection(store, "tenant-a");
    await store.saveCredential(a.id, 0, { secret: sealed("a", "old"), expiresAtSeconds: null });
    await store.saveCredential(b.id, 0, { secret: sealed("b", "new"), expiresAtSeconds: null });
    await store.createConsentState({
      stateHash: "f".repeat(64),
      connectionId: a.id,
      secrets: sealed("verifier", "old"),
      returnUrl: null,
      expiresAtMs: START_TIME_MS + 1000,
    });
    await store.createProvider({ name: "p1", profile: {}, clientSecret: sealed("cs", "old") });
    await store.createProvider({ name: "p2", profile: {}, clientSecret: null });
    assert.deepEqual(await store.countSealedByKey(), { old: 3, new: 1 });

    const stale = await store.listStaleSealed("new", 10);
    assert.deepEqual(
      stale.map((r) => [r.kind, r.id, r.version]),
      [
        ["credential", a.id, 1],
        ["consent_state", "f".repeat(64), 0],
        ["provider_client_secret", "p1", 0],
      ],
    );
    assert.equal((await store.listStaleSealed("new", 2)).length, 2, "limit applies across kinds");

    for (const ref of stale) assert.equal(await store.replaceSealed(ref, sealed(`re-${ref.id}`, "new")), true);
    assert.deepEqual(await store.listStaleSealed("new", 10), []);
    assert.deepEqual(await store.countSealedByKey(), { new: 4 });
    assert.equal(hexOf((await store.getCredential(a.id))?.secret), hexOf(sealed(`re-${a.id}`)));
    assert.equal(hexOf((await store.getProvider("p1")).clientSecret), hexOf(sealed("re-p1")));
  });

  h.test("replaceSealed loses to a concurrent change", async () => {
    const store = h.store();
    const a = await seedConnection(store, "tenant-a");
    await store.saveCredential(a.id, 0, { secret: sealed("v1", "old"), expiresAtSeconds: null });
    const [ref] = await store.listStaleSealed("new", 10);
    assert.ok(ref);
    // A refresh lands between the read and the swap: the rotation must not overwrite it.
    await store.saveCredential(a.id, 1, { secret: sealed("v2", "old"), expiresAtSeconds: null });
    assert.equal(await store.replaceSealed(ref, sealed("rotated-v1", "new")), false);
    assert.equal(hexOf((await store.getCredential(a.id))?.secret), hexOf(sealed("v2")));
  });
}
