/**
 * Re-encrypts every sealed value (credentials, consent-state secrets, provider client secrets) that
 * is not under the vault's active key, online: each swap is compare-and-set, so a refresh that
 * lands meanwhile wins and its (already active-key) value is left alone.
 */
import { consentSecretsAad } from "../consent/consent-states.ts";
import { credentialAad, webhookSecretAad } from "../domain/stored-secret.ts";
import { clientSecretAad } from "../providers/profile.ts";
import type { SealedRef, Store } from "../store/store.ts";
import type { Vault } from "../vault/vault.ts";

/** What a rotation did. */
export interface RotationReport {
  /** Values re-encrypted under the active key. */
  rotated: number;
  /** Values that changed under us (a concurrent write) and were re-read. */
  raced: number;
  /** Sealed values per key id after the rotation. */
  countsByKey: Record<string, number>;
}

/** The AAD each kind of sealed value was sealed with. */
export function aadOf(ref: SealedRef): string {
  switch (ref.kind) {
    case "credential":
      return credentialAad(ref.id, ref.version);
    case "consent_state":
      return consentSecretsAad(ref.id);
    case "provider_client_secret":
      return clientSecretAad(ref.id);
    case "webhook_secret":
    case "webhook_previous_secret":
      return webhookSecretAad(ref.id);
    default: {
      const unreachable: never = ref.kind;
      return unreachable;
    }
  }
}

/** Re-encrypts everything under the active key, `batchSize` values at a time. */
export async function rotateSecrets(deps: {
  store: Store;
  vault: Vault;
  activeKeyId: string;
  batchSize?: number;
}): Promise<RotationReport> {
  const batchSize = deps.batchSize ?? 200;
  let rotated = 0;
  let raced = 0;
  for (;;) {
    const batch = await deps.store.listStaleSealed(deps.activeKeyId, batchSize);
    if (batch.length === 0) break;
    let progressed = false;
    for (const ref of batch) {
      const aad = aadOf(ref);
      const next = deps.vault.seal(deps.vault.open(ref.blob, aad), aad);
      if (await deps.store.replaceSealed(ref, next)) {
        rotated++;
        progressed = true;
      } else {
        raced++;
      }
    }
    // Every ref of a full batch raced: the next read sees the new values; stop if nothing moves at all.
    if (!progressed && raced > 10 * batchSize) throw new Error("key rotation makes no progress: values keep changing");
  }
  return { rotated, raced, countsByKey: await deps.store.countSealedByKey() };
}
