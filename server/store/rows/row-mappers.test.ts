/**
 * Tests of the shared row → record mappers on the cases the conformance suite cannot reach through
 * a store (the schemas' CHECKs forbid half a sealed pair), and of the byte conversion both bind.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { toBuffer, toBufferOrNull } from "./bind-bytes.ts";
import { LEASE_STATE, toConsentState, toLeaseClaim, toProvider } from "./row-mappers.ts";

const bytes = new Uint8Array([1, 2, 3]);

describe("sealed column pairs", () => {
  it("map to a blob only when ciphertext and key id are both present", () => {
    const provider = { name: "p", profile: {}, createdAt: 1, updatedAt: 2 };
    assert.deepEqual(toProvider({ ...provider, clientSecretCiphertext: bytes, clientSecretKeyId: "k1" }).clientSecret, {
      ciphertext: bytes,
      keyId: "k1",
    });
    assert.equal(toProvider({ ...provider, clientSecretCiphertext: bytes, clientSecretKeyId: null }).clientSecret, null);
    assert.equal(toProvider({ ...provider, clientSecretCiphertext: null, clientSecretKeyId: "k1" }).clientSecret, null);
    const state = { stateHash: "h", connectionId: "c", returnUrl: null, createdAt: 1, expiresAt: 2, usedAt: null };
    assert.equal(toConsentState({ ...state, secretsCiphertext: null, secretsKeyId: null }).secrets, null);
    assert.equal(toConsentState({ ...state, secretsCiphertext: bytes, secretsKeyId: "k2" }).secrets?.keyId, "k2");
  });
});

describe("toLeaseClaim", () => {
  it("reports an interrupted call only for the interrupted mark", () => {
    assert.deepEqual(toLeaseClaim({ credentialVersion: 7, leaseState: LEASE_STATE.interrupted }), {
      credentialVersion: 7,
      wasInterrupted: true,
    });
    assert.equal(toLeaseClaim({ credentialVersion: 7, leaseState: LEASE_STATE.calling }).wasInterrupted, false);
    assert.equal(toLeaseClaim({ credentialVersion: 7, leaseState: null }).wasInterrupted, false);
  });
});

describe("toBuffer", () => {
  it("views the same bytes without copying, and keeps a Buffer as is", () => {
    const backing = new Uint8Array([9, 1, 2, 3, 9]);
    const view = backing.subarray(1, 4);
    const buffer = toBuffer(view);
    assert.ok(Buffer.isBuffer(buffer));
    assert.deepEqual([...buffer], [1, 2, 3]);
    backing[1] = 5;
    assert.equal(buffer[0], 5);
    const given = Buffer.from([4]);
    assert.equal(toBuffer(given), given);
    assert.equal(toBufferOrNull(null), null);
    assert.equal(toBufferOrNull(undefined), null);
  });
});
