/**
 * Envelope encryption of secrets at rest: AES-256-GCM, a fresh 96-bit IV per value, the key id
 * stored beside the ciphertext and Additional Authenticated Data binding each ciphertext to its row
 * (so a ciphertext copied to another row fails to decrypt). Plaintext never leaves this module's
 * callers' hands in logs or errors.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject, randomBytes } from "node:crypto";
import type { Keyring } from "./keyring.ts";

/** A sealed value: what the store keeps. */
export interface Sealed {
  /** Id of the keyring key that sealed it. */
  keyId: string;
  /** Format byte (1) ‖ IV (12 bytes) ‖ ciphertext ‖ GCM tag (16 bytes). */
  ciphertext: Uint8Array;
}

/** Seals and opens secrets with a keyring. */
export interface Vault {
  /** Encrypts `plaintext` with the active key, bound to `aad` (e.g. "credential:conn_…"). */
  seal(plaintext: Uint8Array | string, aad: string): Sealed;
  /** Decrypts a sealed value; throws VaultError if the key is unknown, the AAD differs or it was altered. */
  open(sealed: Sealed, aad: string): Buffer;
  /** Whether `sealed` uses a key other than the active one (candidate for re-encryption). */
  needsRotation(sealed: Sealed): boolean;
}

/** Decryption failed: unknown key id, wrong AAD, or tampered ciphertext. Carries no secret. */
export class VaultError extends Error {
  override readonly name = "VaultError";
  readonly keyId: string;
  constructor(message: string, keyId: string, options?: { cause?: unknown }) {
    super(message, options);
    this.keyId = keyId;
  }
}

const FORMAT_V1 = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Creates a vault over a keyring. */
export function createVault(keyring: Keyring): Vault {
  // KeyObjects built once: deriving one from raw bytes on every call was a visible share of the
  // GetToken profile (bench/README.md).
  const keys = new Map<string, KeyObject>([...keyring.byId].map(([id, entry]) => [id, createSecretKey(entry.key)]));
  const activeKey = keys.get(keyring.active.id)!;
  return {
    seal(plaintext, aad) {
      const { id } = keyring.active;
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv("aes-256-gcm", activeKey, iv);
      cipher.setAAD(Buffer.from(aad, "utf8"));
      const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return { keyId: id, ciphertext: Buffer.concat([Buffer.of(FORMAT_V1), iv, body, cipher.getAuthTag()]) };
    },
    open(sealed, aad) {
      const key = keys.get(sealed.keyId);
      if (!key) throw new VaultError(`encryption key "${sealed.keyId}" is not in the keyring`, sealed.keyId);
      // A view, not a copy (the store hands out Buffers already; decryption never writes to it).
      const { ciphertext } = sealed;
      const data = Buffer.isBuffer(ciphertext) ? ciphertext : Buffer.from(ciphertext.buffer, ciphertext.byteOffset, ciphertext.byteLength);
      if (data.length < 1 + IV_BYTES + TAG_BYTES || data[0] !== FORMAT_V1) {
        throw new VaultError("sealed value is malformed", sealed.keyId);
      }
      const iv = data.subarray(1, 1 + IV_BYTES);
      const tag = data.subarray(data.length - TAG_BYTES);
      const decipher = createDecipheriv("aes-256-gcm", key, iv);
      decipher.setAAD(Buffer.from(aad, "utf8"));
      decipher.setAuthTag(tag);
      try {
        return Buffer.concat([decipher.update(data.subarray(1 + IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      } catch (cause) {
        throw new VaultError("sealed value failed authentication (wrong row, key or tampered)", sealed.keyId, { cause });
      }
    },
    needsRotation(sealed) {
      return sealed.keyId !== keyring.active.id;
    },
  };
}
