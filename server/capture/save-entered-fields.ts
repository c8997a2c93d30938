/**
 * The last step of key capture: seal the entered fields as the connection's next credential version
 * and activate the connection, both compare-and-set, so a connection revoked meanwhile never ends up
 * active or holding the key. It owns that write order; it never sees the browser.
 */
import { ConflictError, NotFoundError } from "../domain/errors.ts";
import { isAwaitingConsent } from "../domain/connection-status.ts";
import { credentialAad, encodeStoredSecret, type EnteredFields } from "../domain/stored-secret.ts";
import type { Store } from "../store/store.ts";
import type { Vault } from "../vault/vault.ts";

/** How saving ended; anything else is thrown (store or vault failure). */
export type SaveOutcome = "stored" | "connection_not_pending";

/**
 * Seals `fields` with AAD bound to (connection, version) and saves them as version
 * `credentialVersion + 1`, then moves the connection pending → active.
 * @throws ConflictError("version") when another writer saved a credential in between.
 */
export async function saveEnteredFields(
  deps: { store: Store; vault: Vault },
  connectionId: string,
  fields: Record<string, string>,
): Promise<SaveOutcome> {
  const { store, vault } = deps;
  const current = await store.findConnectionById(connectionId);
  if (current === null || !isAwaitingConsent(current.status)) return "connection_not_pending";
  const version = current.credentialVersion + 1;
  const secret: EnteredFields = { kind: "fields", fields };
  const sealed = vault.seal(encodeStoredSecret(secret), credentialAad(connectionId, version));
  await store.saveCredential(connectionId, current.credentialVersion, {
    secret: sealed,
    expiresAtSeconds: null,
    nextRefreshAtMs: null,
  });
  try {
    await store.updateConnectionStatus(current.tenantId, connectionId, ["pending"], "active", null);
  } catch (err) {
    if (!(err instanceof ConflictError || err instanceof NotFoundError)) throw err;
    // Revoked (or otherwise moved on) between the two writes: the key must not linger.
    await store.deleteCredential(connectionId);
    return "connection_not_pending";
  }
  return "stored";
}
