/**
 * The one conversion of ciphertext bytes into a bindable SQLite BLOB value.
 * better-sqlite3 binds only Buffers as BLOBs; it does not look inside or log the bytes.
 */

/** Returns `bytes` as a Buffer (a view, not a copy), or null when there are none. */
export function toBlob(bytes: Uint8Array | undefined | null): Buffer | null {
  if (bytes === undefined || bytes === null) return null;
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
