/**
 * The credential part of the storage contract: sealed credentials, OAuth consent states, and `CredentialStore`.
 */
import type { EncryptedBlob } from "./common.ts";

/** The current credential of a connection, sealed by the vault (usage and master secrets alike). */
export interface CredentialRecord {
  connectionId: string;
  secret: EncryptedBlob;
  version: number;
  /** Unix seconds; null when the credential does not expire. */
  expiresAtSeconds: number | null;
  updatedAtMs: number;
}

/** What `saveCredential` takes. `nextRefreshAtMs` absent keeps the connection's current value. */
export interface CredentialInput {
  secret: EncryptedBlob;
  expiresAtSeconds: number | null;
  nextRefreshAtMs?: number | null;
  /**
   * Frees the refresh lease in the same write if this owner (a lease token) still holds it, as
   * `releaseRefreshLease` would: a refresh saves and releases in one write. A lease held by anyone
   * else is left alone (the save itself is fenced by the version, not by the lease).
   */
  releaseLeaseOf?: string;
}

/**
 * A pending OAuth consent, keyed by the SHA-256 hex of the `state` parameter (never the raw state).
 * `secrets` seals what the callback needs back (PKCE verifier, OIDC nonce); null when there is none.
 */
export interface ConsentStateRecord {
  stateHash: string;
  connectionId: string;
  secrets: EncryptedBlob | null;
  returnUrl: string | null;
  createdAtMs: number;
  expiresAtMs: number;
  usedAtMs: number | null;
}

/** What `createConsentState` takes. */
export interface ConsentStateInput {
  stateHash: string;
  connectionId: string;
  secrets: EncryptedBlob | null;
  returnUrl: string | null;
  expiresAtMs: number;
}

/** Credentials and OAuth consent states: the sealed secrets of a connection. */
export interface CredentialStore {
  /**
   * Replaces the connection's credential if its credential version is `expectedVersion`
   * (compare-and-set); the saved version is `expectedVersion + 1`, so a caller can bind it into the
   * ciphertext's AAD. NotFoundError when the connection is missing, ConflictError("version") otherwise.
   */
  saveCredential(connectionId: string, expectedVersion: number, input: CredentialInput): Promise<CredentialRecord>;
  /** Reads the current credential, or null when there is none. */
  getCredential(connectionId: string): Promise<CredentialRecord | null>;
  /** Deletes the current credential (idempotent); the connection's credential version is kept. */
  deleteCredential(connectionId: string): Promise<void>;
  /** Records a consent state; NotFoundError when the connection is missing. */
  createConsentState(input: ConsentStateInput): Promise<ConsentStateRecord>;
  /** Reads a consent state by hash whatever its use or expiry, or null (e.g. to render a capture form). */
  findConsentState(stateHash: string): Promise<ConsentStateRecord | null>;
  /**
   * Marks the state used and returns it, atomically, only if it is unused and `nowMs < expiresAtMs`;
   * otherwise null (unknown, replayed or expired all look the same).
   */
  consumeConsentState(stateHash: string, nowMs: number): Promise<ConsentStateRecord | null>;
  /** Deletes consent states that expired before `expiredBeforeMs`; returns how many. */
  pruneConsentStates(expiredBeforeMs: number): Promise<number>;
}
