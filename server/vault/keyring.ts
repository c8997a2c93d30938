/**
 * The encryption keyring: 256-bit keys with ids, the first active (encrypts), the rest decrypt-only.
 * Text form, as in NEXUS_ENCRYPTION_KEYS: "kid:base64key[,kid:base64key…]". In development a missing
 * keyring is generated into the data directory (mode 0600). Key material is never logged.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

/** One key of the ring. */
export interface KeyringKey {
  /** Identifier stored beside every ciphertext: 1-32 of [A-Za-z0-9_-]. */
  id: string;
  /** 32 bytes of key material. */
  key: Buffer;
}

/** An ordered set of keys; `active` encrypts, every key decrypts. */
export interface Keyring {
  /** The key new ciphertexts use. */
  readonly active: KeyringKey;
  /** Every key by id, the active one included. */
  readonly byId: ReadonlyMap<string, KeyringKey>;
}

/** File name of the generated development keyring inside the data directory. */
export const DEV_KEYRING_FILE = "encryption-keys";

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/**
 * Parses the text form of a keyring.
 *
 * @throws Error naming the malformed entry by position and id (never by its key material).
 */
export function parseKeyring(text: string): Keyring {
  const entries = text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (entries.length === 0) throw new Error("encryption keyring is empty");
  const keys: KeyringKey[] = [];
  entries.forEach((entry, index) => {
    const colon = entry.indexOf(":");
    const id = colon > 0 ? entry.slice(0, colon) : "";
    if (!KEY_ID.test(id)) {
      throw new Error(`encryption key #${index + 1}: expected "kid:base64key" with kid of 1-32 [A-Za-z0-9_-]`);
    }
    const key = Buffer.from(entry.slice(colon + 1), "base64");
    if (key.length !== 32) {
      throw new Error(`encryption key "${id}": must be 32 bytes of base64 (got ${key.length} bytes)`);
    }
    if (keys.some((k) => k.id === id)) throw new Error(`encryption key "${id}" appears twice`);
    keys.push({ id, key });
  });
  return { active: keys[0]!, byId: new Map(keys.map((k) => [k.id, k])) };
}

/** Returns the text form of a new single-key keyring with a fresh random key. */
export function generateKeyringText(id = `k${new Date().toISOString().slice(0, 10).replaceAll("-", "")}`): string {
  return `${id}:${randomBytes(32).toString("base64")}`;
}

/** What `loadOrCreateDevKeyring` did, so the caller can say so loudly. */
export interface DevKeyringResult {
  keyring: Keyring;
  /** Path of the keyring file. */
  file: string;
  /** True when the file did not exist and was generated now. */
  created: boolean;
}

/**
 * Loads the development keyring from `<dataDir>/encryption-keys`, generating it (mode 0600) when
 * missing. Only for development mode: production passes NEXUS_ENCRYPTION_KEYS instead.
 */
export function loadOrCreateDevKeyring(dataDir: string): DevKeyringResult {
  const file = path.join(dataDir, DEV_KEYRING_FILE);
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  try {
    // "wx": never overwrite a keyring that appeared meanwhile; losing a key loses every secret.
    fs.writeFileSync(file, `${generateKeyringText()}\n`, { flag: "wx", mode: 0o600 });
    return { keyring: parseKeyring(fs.readFileSync(file, "utf8")), file, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  return { keyring: parseKeyring(fs.readFileSync(file, "utf8")), file, created: false };
}
