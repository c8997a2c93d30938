/**
 * Values every store concern shares: JSON column values, vault-sealed blobs, and list paging.
 */

/** A JSON value as stored in a JSON column. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A JSON object as stored in a JSON column. */
export type JsonObject = { [key: string]: JsonValue };

/** A value sealed by the vault: its ciphertext and the id of the key that sealed it. */
export interface EncryptedBlob {
  ciphertext: Uint8Array;
  keyId: string;
}

/**
 * A page request. `pageSize` absent or 0 means the list's default (50; audit 100); above the list's
 * maximum (500; audit 1000) it is lowered to it (AIP-158); negative or fractional → InvalidArgumentError.
 */
export interface PageRequest {
  pageSize?: number;
  /** `nextPageToken` of the previous page; opaque. A malformed token → InvalidArgumentError. */
  pageToken?: string;
}

/** One page of a list. `nextPageToken` is "" on the last page. */
export interface Page<T> {
  items: T[];
  nextPageToken: string;
}
