/**
 * The one way a pending connection becomes active with its first (or re-consented) credential, shared
 * by OAuth consent and key capture: seal the secret as the next credential version (AAD bound to
 * connection and version), then move pending → active. Both writes are compare-and-set, so a
 * connection revoked meanwhile never ends up active or holding the secret.
 */
import { isAwaitingConsent } from "../domain/connection-status.ts";
import { ConflictError, NotFoundError } from "../domain/errors.ts";
import { credentialAad, encodeStoredSecret, type StoredSecret } from "../domain/stored-secret.ts";
import { transition } from "../lifecycle/connection-transition.ts";
import type { ConnectionChanges, ConnectionRecord, CredentialInput, Store } from "../store/store.ts";
import type { Vault } from "../vault/vault.ts";

/** What is saved beside the secret and changed beside the status. */
export interface Activation {
  expiresAtSeconds: number | null;
  /** Absent keeps the connection's refresh schedule (saveCredential's rule). */
  nextRefreshAtMs?: CredentialInput["nextRefreshAtMs"];
  /** Absent keeps the connection's scopes. */
  scopes?: ConnectionChanges["scopes"];
  /** The provider account learned with this credential; absent keeps the connection's. */
  account?: ConnectionChanges["account"];
  /** Provider values kept beside the credential; absent keeps the connection's. */
  metadata?: ConnectionChanges["metadata"];
}

/** How an activation ended: active, or the connection moved on (revoked, deleted) after the save. */
export type ActivationResult =
  | { kind: "active"; connection: ConnectionRecord }
  | { kind: "moved_on"; error: ConflictError | NotFoundError };

/**
 * Saves `secret` as version `connection.credentialVersion + 1` and activates the pending connection.
 * When the connection moved on between the two writes, the saved secret is deleted again.
 * @throws ConflictError("version") when another writer saved a credential first, ConflictError("status")
 *   when `connection` was not read as pending; NotFoundError when
 *   the connection is gone before the save.
 */
export async function activateWithCredential(
  deps: { store: Store; vault: Vault },
  connection: ConnectionRecord,
  secret: StoredSecret,
  activation: Activation,
): Promise<ActivationResult> {
  const { store, vault } = deps;
  // Only a connection read as pending may be activated (the table would also let attention_required
  // reach active, but that is not this path's move); callers check first, so this is a stale read.
  if (!isAwaitingConsent(connection.status)) {
    throw new ConflictError("status", `connection "${connection.id}" is ${connection.status}, expected pending`);
  }
  const version = connection.credentialVersion + 1;
  await store.saveCredential(connection.id, connection.credentialVersion, {
    secret: vault.seal(encodeStoredSecret(secret), credentialAad(connection.id, version)),
    expiresAtSeconds: activation.expiresAtSeconds,
    ...(activation.nextRefreshAtMs !== undefined && { nextRefreshAtMs: activation.nextRefreshAtMs }),
  });
  const changes: ConnectionChanges = {
    ...(activation.scopes !== undefined && { scopes: activation.scopes }),
    ...(activation.account !== undefined && { account: activation.account }),
    ...(activation.metadata !== undefined && { metadata: activation.metadata }),
    // A connection that once ended on another (reuse_existing) and is re-consented is itself again.
    ...(connection.reusedConnectionId !== null && { reusedConnectionId: null }),
  };
  try {
    const active = await transition(store, connection, "active", null, changes);
    return { kind: "active", connection: active };
  } catch (err) {
    if (!(err instanceof ConflictError || err instanceof NotFoundError)) throw err;
    // Revoked (or deleted) while the user was at the provider or the form: the secret must not stay behind.
    await store.deleteCredential(connection.id);
    return { kind: "moved_on", error: err };
  }
}
