/**
 * Standard Webhooks signing: secrets are "whsec_" + base64 of random bytes; a signature is
 * `v1,` + base64(HMAC-SHA256(secret bytes, `${webhook-id}.${webhook-timestamp}.${body}`)); the
 * webhook-signature header lists one per secret, space separated (during a rotation's overlap, the
 * new secret's first, then the old one's). node:crypto only; tests verify with the `standardwebhooks`
 * package a receiver would use.
 * @see https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */
import { createHmac, randomBytes } from "node:crypto";

/** Prefix of a webhook secret as shown to users. */
export const SECRET_PREFIX = "whsec_";

/** Random bytes per secret (the spec asks for 24 to 64). */
const SECRET_BYTES = 32;

/** A new secret's raw bytes. */
export function newSecretBytes(): Buffer {
  return randomBytes(SECRET_BYTES);
}

/** The user-facing form of secret bytes: "whsec_" + base64. */
export function formatSecret(bytes: Uint8Array): string {
  return `${SECRET_PREFIX}${Buffer.from(bytes).toString("base64")}`;
}

/** The three Standard Webhooks headers of one attempt. */
export interface WebhookHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
}

/**
 * Signs `body` with every secret in `secrets` (non-empty; the current one first).
 * `timestampSeconds` is Unix seconds.
 */
export function signWebhook(secrets: readonly Uint8Array[], id: string, timestampSeconds: number, body: string): WebhookHeaders {
  const timestamp = String(Math.floor(timestampSeconds));
  const signed = `${id}.${timestamp}.${body}`;
  const signatures = secrets.map((secret) => `v1,${createHmac("sha256", secret).update(signed, "utf8").digest("base64")}`);
  return { "webhook-id": id, "webhook-timestamp": timestamp, "webhook-signature": signatures.join(" ") };
}
