/**
 * Opens and seals a connection's stored credential for the refresh engine: vault AAD bound to the
 * connection and version, and saves as compare-and-set on the version the caller read. It holds no
 * state and makes no refresh decision; plaintext stays in the caller's hands.
 */
import { credentialAad, decodeStoredSecret, encodeStoredSecret, type StoredSecret } from "../domain/stored-secret.ts";
import type { CredentialRecord, Store } from "../store/store.ts";
import type { Vault } from "../vault/vault.ts";

/** An opened credential, its version, and when it was saved (epoch ms; estimates token lifetime). */
export interface StoredCredential {
  secret: StoredSecret;
  version: number;
  savedAtMs: number;
}

/** Reads and writes opened credentials. */
export interface CredentialAccess {
  /** The current credential; throws (a fault, not a domain error) when an active connection has none. */
  require(connectionId: string): Promise<StoredCredential>;
  /** Opens a credential record read already (GetToken's single read); the same fault as `require` when null. */
  open(connectionId: string, record: CredentialRecord | null): StoredCredential;
  /**
   * Seals `secret` as version `expectedVersion + 1` and saves it only if the stored version is still
   * `expectedVersion`; ConflictError("version") otherwise (nothing is overwritten).
   */
  save(
    connectionId: string,
    expectedVersion: number,
    secret: StoredSecret,
    nextRefreshAtMs: number | null,
    /** A refresh lease token to free in the same write (if still held by it). */
    releaseLeaseOf?: string,
  ): Promise<StoredCredential>;
}

/** Creates the accessor. */
export function createCredentialAccess(deps: { store: Store; vault: Vault }): CredentialAccess {
  const { store, vault } = deps;
  const open = (connectionId: string, record: CredentialRecord | null): StoredCredential => {
    if (!record) throw new Error(`connection ${connectionId} has no stored credential`);
    const secret = decodeStoredSecret(vault.open(record.secret, credentialAad(connectionId, record.version)));
    return { secret, version: record.version, savedAtMs: record.updatedAtMs };
  };
  return {
    async require(connectionId) {
      return open(connectionId, await store.getCredential(connectionId));
    },
    open,
    async save(connectionId, expectedVersion, secret, nextRefreshAtMs, releaseLeaseOf) {
      const version = expectedVersion + 1;
      const record = await store.saveCredential(connectionId, expectedVersion, {
        secret: vault.seal(encodeStoredSecret(secret), credentialAad(connectionId, version)),
        expiresAtSeconds: secret.expiresAtSeconds ?? null,
        nextRefreshAtMs,
        ...(releaseLeaseOf === undefined ? {} : { releaseLeaseOf }),
      });
      return { secret, version: record.version, savedAtMs: record.updatedAtMs };
    },
  };
}
