/**
 * Random, prefixed identifiers for stored rows (`conn_…`, `key_…`).
 * Ids are public handles, not secrets: they only need to be unguessable enough that one tenant
 * cannot enumerate another's, so 128 random bits are used. It does not hash or derive anything.
 */
import { randomBytes } from "node:crypto";

/** Makes new row identifiers. */
export interface IdGenerator {
  /** Returns `${prefix}_` followed by the random part. */
  newId(prefix: string): string;
}

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/** 62^22 > 2^128, so 22 digits hold any 16-byte value and every id has the same length. */
const RANDOM_BYTES = 16;
const DIGITS = 22;

/**
 * Creates the default generator: 16 bytes from `random` (default node:crypto `randomBytes`)
 * written as 22 base62 digits, e.g. `conn_4fT0qZ…`. Base62 keeps ids free of `-` and `_`, so the
 * prefix separator stays unambiguous and ids survive double-click selection and URLs unescaped.
 */
export function createIdGenerator(random: (size: number) => Uint8Array = randomBytes): IdGenerator {
  return {
    newId(prefix: string): string {
      let value = 0n;
      for (const byte of random(RANDOM_BYTES)) value = (value << 8n) | BigInt(byte);
      let digits = "";
      for (let i = 0; i < DIGITS; i++) {
        digits = BASE62[Number(value % 62n)] + digits;
        value /= 62n;
      }
      return `${prefix}_${digits}`;
    },
  };
}
