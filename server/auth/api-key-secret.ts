/**
 * API key secrets: generation (`nxk_` + 256 random bits, base64url), the hash that is stored and
 * looked up, and the visible prefix. It never stores, logs or compares secrets itself.
 *
 * Why SHA-256 and not a slow password hash (bcrypt, scrypt, argon2): slow hashes protect
 * low-entropy secrets chosen by people against offline guessing. A generated key has 256 random
 * bits; guessing it from its hash is as hard as guessing it outright, with or without a slow hash.
 * A fast, unsalted hash also allows an exact indexed lookup (`findApiKeyByHash`) on every request,
 * where a salted slow hash would need a key id in the secret and milliseconds of CPU per call.
 * Operator-supplied keys (NEXUS_ADMIN_API_KEY) must be at least 32 characters for the same reason.
 */
import { hash, randomBytes } from "node:crypto";

/** What every generated key starts with, so scanners and people recognise a Nexus key. */
export const API_KEY_PREFIX = "nxk_";

/** How many characters of a secret are kept in clear as its prefix: `nxk_` + 8. */
export const VISIBLE_PREFIX_LENGTH = API_KEY_PREFIX.length + 8;

/** A freshly generated key: the secret (shown once) and what is stored. */
export interface GeneratedApiKeySecret {
  secret: string;
  prefix: string;
  secretHash: string;
}

/** Generates a new key secret. `random` is injectable for tests. */
export function generateApiKeySecret(random: (size: number) => Buffer = randomBytes): GeneratedApiKeySecret {
  const secret = `${API_KEY_PREFIX}${random(32).toString("base64url")}`;
  return { secret, prefix: visiblePrefix(secret), secretHash: hashApiKeySecret(secret) };
}

/** The stored form of a secret: SHA-256, lower-case hex. */
export function hashApiKeySecret(secret: string): string {
  // One-shot: no Hash object per call (every authenticated request hashes its key).
  return hash("sha256", secret, "hex");
}

/**
 * The first characters of a secret, kept in clear to recognise the key in listings: `nxk_` + 8 for
 * generated keys (48 of 256 random bits), only 4 for operator-supplied ones, whose entropy is unknown.
 */
export function visiblePrefix(secret: string): string {
  return secret.startsWith(API_KEY_PREFIX) ? secret.slice(0, VISIBLE_PREFIX_LENGTH) : secret.slice(0, 4);
}

/**
 * Whether a presented value can be a key at all (printable ASCII, 16-512 characters): anything else
 * is refused before hashing or touching the store.
 */
export function isPlausibleApiKey(value: string): boolean {
  return /^[\x21-\x7e]{16,512}$/.test(value);
}
