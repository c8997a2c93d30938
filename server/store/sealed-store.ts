/**
 * The key rotation part of the storage contract: where sealed values live and `SealedStore`.
 */
import type { EncryptedBlob } from "./common.ts";

/** Where a sealed value lives, for key rotation. */
export type SealedKind = "credential" | "consent_state" | "provider_client_secret" | "webhook_secret" | "webhook_previous_secret";

/** A sealed value found by `listStaleSealed`, with what its AAD is built from. */
export interface SealedRef {
  kind: SealedKind;
  /** Connection id, state hash, provider name or webhook endpoint id. */
  id: string;
  /** Credential version (part of its AAD); 0 for the other kinds. */
  version: number;
  blob: EncryptedBlob;
}

/** Re-encryption support for `nexus keys rotate`. */
export interface SealedStore {
  /** Up to `limit` sealed values whose key id is not `activeKeyId`, in a stable order. */
  listStaleSealed(activeKeyId: string, limit: number): Promise<SealedRef[]>;
  /**
   * Replaces `ref.blob` by `next` only if the row still holds exactly `ref.blob` (and, for a
   * credential, `ref.version`): a concurrent refresh wins. Returns whether it replaced.
   */
  replaceSealed(ref: SealedRef, next: EncryptedBlob): Promise<boolean>;
  /** How many sealed values each key id protects. */
  countSealedByKey(): Promise<Record<string, number>>;
}
