/**
 * Webhook signing secrets at rest: sealed by the vault, bound (AAD) to their endpoint, so a secret
 * copied to another endpoint's row does not open. The current and the previous secret share the
 * AAD (a rotation moves the current ciphertext into the previous column unchanged).
 */
import { webhookSecretAad } from "../domain/stored-secret.ts";
import type { EncryptedBlob, WebhookEndpointRecord } from "../store/store.ts";
import type { Vault } from "../vault/vault.ts";

/** Seals a new secret's bytes for `endpointId`. */
export function sealWebhookSecret(vault: Pick<Vault, "seal">, endpointId: string, bytes: Uint8Array): EncryptedBlob {
  return vault.seal(bytes, webhookSecretAad(endpointId));
}

/** The secrets that sign at `nowMs`: the current one, then the previous one while its overlap lasts. */
export function signingSecrets(vault: Pick<Vault, "open">, endpoint: WebhookEndpointRecord, nowMs: number): Uint8Array[] {
  const secrets: Uint8Array[] = [vault.open(endpoint.secret, webhookSecretAad(endpoint.id))];
  if (endpoint.previousSecret !== null && endpoint.previousSecretExpiresAtMs !== null && nowMs < endpoint.previousSecretExpiresAtMs) {
    secrets.push(vault.open(endpoint.previousSecret, webhookSecretAad(endpoint.id)));
  }
  return secrets;
}
