import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { generateKeyringText, loadOrCreateDevKeyring, parseKeyring } from "./keyring.ts";
import { createVault, VaultError } from "./vault.ts";

test("seal then open round-trips and binds the AAD", () => {
  const vault = createVault(parseKeyring(generateKeyringText("k1")));
  const sealed = vault.seal("secret-value", "credential:conn_a");
  assert.equal(sealed.keyId, "k1");
  assert.equal(vault.open(sealed, "credential:conn_a").toString(), "secret-value");
  assert.ok(!Buffer.from(sealed.ciphertext).includes(Buffer.from("secret-value")));
  assert.throws(() => vault.open(sealed, "credential:conn_b"), VaultError);
});

test("tampering is detected", () => {
  const vault = createVault(parseKeyring(generateKeyringText("k1")));
  const sealed = vault.seal("x".repeat(40), "aad");
  const altered = Buffer.from(sealed.ciphertext);
  altered[20]! ^= 1;
  assert.throws(() => vault.open({ keyId: "k1", ciphertext: altered }, "aad"), VaultError);
  assert.throws(() => vault.open({ keyId: "k1", ciphertext: altered.subarray(0, 10) }, "aad"), VaultError);
});

test("rotation: an older key still decrypts, new seals use the active key", () => {
  const k1 = generateKeyringText("k1");
  const old = createVault(parseKeyring(k1)).seal("v", "aad");
  const k2 = generateKeyringText("k2");
  const rotated = createVault(parseKeyring(`${k2},${k1}`));
  assert.equal(rotated.open(old, "aad").toString(), "v");
  assert.equal(rotated.needsRotation(old), true);
  const fresh = rotated.seal("v", "aad");
  assert.equal(fresh.keyId, "k2");
  assert.equal(rotated.needsRotation(fresh), false);
  // Once k1 is removed, its ciphertexts are unreadable with a clear error naming the key id only.
  const onlyK2 = createVault(parseKeyring(k2));
  assert.throws(() => onlyK2.open(old, "aad"), /encryption key "k1" is not in the keyring/);
});

test("parseKeyring rejects malformed input without echoing key material", () => {
  assert.throws(() => parseKeyring(""), /empty/);
  assert.throws(() => parseKeyring("nokey"), /#1/);
  assert.throws(() => parseKeyring("k1:c2hvcnQ="), /k1.*32 bytes/);
  const text = generateKeyringText("k1");
  assert.throws(() => parseKeyring(`${text},${text}`), /appears twice/);
  try {
    parseKeyring("k1:c2hvcnQ=");
  } catch (err) {
    assert.ok(!String(err).includes("c2hvcnQ="));
  }
});

test("development keyring is generated once with mode 0600 and reused", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nexus-keyring-"));
  try {
    const first = loadOrCreateDevKeyring(path.join(dir, "data"));
    assert.equal(first.created, true);
    assert.equal(fs.statSync(first.file).mode & 0o777, 0o600);
    const second = loadOrCreateDevKeyring(path.join(dir, "data"));
    assert.equal(second.created, false);
    assert.deepEqual(second.keyring.active.key, first.keyring.active.key);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
