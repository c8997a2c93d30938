/**
 * Derives what an agent may see from a connection's sealed secret: the usage part only. OAuth token
 * sets give `access_token` (and `expires_at`, plus extra fields the profile lists such as
 * Salesforce's instance_url); refresh tokens and id_tokens never leave this function. Entered
 * fields (API keys, passwords) are usage secrets by nature and are passed whole.
 */

import type { StoredSecret } from "../domain/stored-secret.ts";
import type { Strategy } from "../domain/strategy.ts";

/** The seed's generic credential payload, in domain form. */
export interface UsageCredential {
  connectionId: string;
  strategy: Strategy;
  /** Field name → value; `expires_at` is a number (Unix seconds), everything else a string. */
  credentials: Record<string, string | number>;
  /** Unix seconds; null when the credential does not expire. */
  expiresAtSeconds: number | null;
  version: number;
}

/** Builds the usage credential of a connection from its opened secret and its provider's strategy. */
export function toUsageCredential(input: {
  connectionId: string;
  version: number;
  strategy: Strategy;
  secret: StoredSecret;
}): UsageCredential {
  const { secret } = input;
  const credentials: Record<string, string | number> = {};
  if (secret.kind === "oauth2") {
    // Extra fields first, so a provider can never shadow access_token or expires_at with them.
    Object.assign(credentials, secret.extra ?? {});
    credentials.access_token = secret.accessToken;
    if (secret.expiresAtSeconds !== undefined) credentials.expires_at = secret.expiresAtSeconds;
  } else {
    Object.assign(credentials, secret.fields);
    if (secret.expiresAtSeconds !== undefined) credentials.expires_at = secret.expiresAtSeconds;
  }
  return {
    connectionId: input.connectionId,
    strategy: input.strategy,
    credentials,
    expiresAtSeconds: secret.expiresAtSeconds ?? null,
    version: input.version,
  };
}
