/**
 * The one conversion of ciphertext bytes into the value both drivers bind: a Buffer. better-sqlite3
 * binds only Buffers as BLOBs, and node-postgres sends Buffers as bytea. It never looks inside the
 * bytes or renders them into SQL text.
 */

/** Returns `bytes` as a Buffer (a view, not a copy). */
export function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Returns `bytes` as a Buffer (a view, not a copy), or null when there are none. */
export function toBufferOrNull(bytes: Uint8Array | undefined | null): Buffer | null {
  return bytes === undefined || bytes === null ? null : toBuffer(bytes);
}
