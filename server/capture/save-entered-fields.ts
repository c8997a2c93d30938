/**
 * The last step of key capture: the entered fields become the connection's next credential version
 * and the connection becomes active, through the same activation as OAuth consent
 * (consent/activate-with-credential.ts). It maps a connection that moved on to an outcome; it never
 * sees the browser.
 */

import { activateWithCredential } from "../consent/activate-with-credential.ts";
import type { ConnectionAccount } from "../domain/connection-account.ts";
import { isAwaitingConsent } from "../domain/connection-status.ts";
import type { EnteredFields } from "../domain/stored-secret.ts";
import type { Store } from "../store/store.ts";
import type { Vault } from "../vault/vault.ts";

/** How saving ended; anything else is thrown (store or vault failure). */
export type SaveOutcome = "stored" | "connection_not_pending";

/**
 * Seals `fields` with AAD bound to (connection, version) and saves them as version
 * `credentialVersion + 1`, then moves the connection pending → active. Entered keys do not expire
 * and are never refreshed.
 * @throws ConflictError("version") when another writer saved a credential in between.
 */
export async function saveEnteredFields(
  deps: { store: Store; vault: Vault },
  connectionId: string,
  fields: Record<string, string>,
  /** The account the entered credential belongs to, when learned (kept otherwise). */
  account?: ConnectionAccount,
): Promise<SaveOutcome> {
  const current = await deps.store.findConnectionById(connectionId);
  if (current === null || !isAwaitingConsent(current.status)) return "connection_not_pending";
  const secret: EnteredFields = { kind: "fields", fields };
  const result = await activateWithCredential(deps, current, secret, {
    expiresAtSeconds: null,
    nextRefreshAtMs: null,
    ...(account !== undefined && { account }),
  });
  return result.kind === "active" ? "stored" : "connection_not_pending";
}
