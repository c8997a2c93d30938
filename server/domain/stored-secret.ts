/**
 * What the vault seals for a connection: the provider's token set (OAuth) or the fields a user
 * entered (keys, passwords). Serialized to JSON, sealed with AAD bound to the connection and
 * credential version, and never returned whole: GetToken derives the usage part from it.
 */

/** Tokens from an OAuth 2.0 token endpoint (RFC 6749 §5.1). */
export interface OAuthTokenSet {
  kind: "oauth2";
  accessToken: string;
  /** Usually "Bearer". */
  tokenType: string;
  /** Master secret: never leaves the server. */
  refreshToken?: string;
  /** Master-side: never returned by GetToken. */
  idToken?: string;
  /** Space-separated scopes the provider granted, when it said. */
  scope?: string;
  /** Unix seconds; absent when the provider gave no expires_in. */
  expiresAtSeconds?: number;
  /**
   * Extra non-secret response fields agents need, e.g. Salesforce's instance_url. Only names the
   * provider profile lists are kept.
   */
  extra?: Record<string, string>;
}

/** Fields a user typed (API key, user name and password, AWS keys …), by field name. */
export interface EnteredFields {
  kind: "fields";
  fields: Record<string, string>;
  /** Unix seconds, when the fields carry an expiry (e.g. temporary AWS credentials). */
  expiresAtSeconds?: number;
}

/** A connection's sealed secret. */
export type StoredSecret = OAuthTokenSet | EnteredFields;

/** The AAD that binds a credential ciphertext to its connection and version (see vault.ts). */
export function credentialAad(connectionId: string, version: number): string {
  return `nexus:credential:${connectionId}:v${version}`;
}

/** Serializes a secret for sealing. */
export function encodeStoredSecret(secret: StoredSecret): string {
  return JSON.stringify(secret);
}

/** Parses an opened secret; throws if it is not one (a vault/AAD bug, never user input). */
export function decodeStoredSecret(plaintext: Buffer | string): StoredSecret {
  const value = JSON.parse(plaintext.toString()) as StoredSecret;
  if (value.kind !== "oauth2" && value.kind !== "fields") throw new Error("stored secret has an unknown kind");
  return value;
}

/**
 * The AAD of a webhook endpoint's signing secrets (current and previous alike: a rotation moves the
 * current ciphertext into the previous column unchanged), binding them to their endpoint.
 */
export function webhookSecretAad(endpointId: string): string {
  return `webhook_secret:${endpointId}`;
}
