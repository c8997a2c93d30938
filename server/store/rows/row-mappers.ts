/**
 * The one row → record mapping per table, shared by `sqlite/` and `postgres/`. Rows are typed by
 * structural shapes (column names as in both `schema.ts` files) that both dialects' `$inferSelect`
 * satisfy, so no drizzle row type leaves its dialect folder. Times keep their units (ms, or Unix
 * seconds where the column says so); ciphertext is passed through as the bytes the driver read.
 */
import type { ConnectionStatus } from "../../domain/connection-status.ts";
import type { ProxyRule } from "../../domain/proxy-rule.ts";
import type {
  ApiKeyRecord,
  ApiKeyRole,
  AuditEventRecord,
  ConnectionRecord,
  ConsentStateRecord,
  CredentialRecord,
  EncryptedBlob,
  JsonObject,
  ProviderRecord,
  SealedRef,
  Tenant,
} from "../store.ts";

/** The columns of a `tenants` row that `toTenant` reads. */
export interface TenantRow {
  id: string;
  displayName: string;
  createdAt: number;
}

/** The columns of a `providers` row that `toProvider` and `toProviderSealedRef` read. */
export interface ProviderRow {
  name: string;
  profile: JsonObject;
  clientSecretCiphertext: Uint8Array | null;
  clientSecretKeyId: string | null;
  createdAt: number;
  updatedAt: number;
}

/** The columns of a `connections` row that `toConnection` reads (the lease columns stay private). */
export interface ConnectionRow {
  id: string;
  tenantId: string;
  userId: string;
  providerName: string;
  status: ConnectionStatus;
  statusReason: string | null;
  scopes: string[];
  params: Record<string, string>;
  returnUrl: string | null;
  createdAt: number;
  updatedAt: number;
  credentialVersion: number;
  /** Unix seconds. */
  credentialExpiresAt: number | null;
  nextRefreshAt: number | null;
  accountId: string | null;
  accountEmail: string | null;
  accountDisplayName: string | null;
  labels: Record<string, string>;
  metadata: Record<string, string>;
  reusedConnectionId: string | null;
}

/** The columns of a `credentials` row that `toCredential` and `toCredentialSealedRef` read. */
export interface CredentialRow {
  connectionId: string;
  ciphertext: Uint8Array;
  keyId: string;
  version: number;
  /** Unix seconds. */
  expiresAt: number | null;
  updatedAt: number;
}

/** The columns of a `consent_states` row that `toConsentState` and `toConsentStateSealedRef` read. */
export interface ConsentStateRow {
  stateHash: string;
  connectionId: string;
  secretsCiphertext: Uint8Array | null;
  secretsKeyId: string | null;
  returnUrl: string | null;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
}

/** The columns of an `api_keys` row that `toApiKey` reads. */
export interface ApiKeyRow {
  id: string;
  prefix: string;
  secretHash: string;
  name: string;
  role: ApiKeyRole;
  tenantId: string | null;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
  proxyRules: ProxyRule[];
  proxyOnly: boolean;
}

/** The columns of an `audit_events` row that `toAuditEvent` reads. */
export interface AuditEventRow {
  id: number;
  time: number;
  action: string;
  result: string;
  keyId: string | null;
  tenantId: string | null;
  connectionId: string | null;
  requestId: string | null;
  clientAddress: string | null;
  details: Record<string, string>;
}

/** Maps a `tenants` row to a Tenant. */
export function toTenant(row: TenantRow): Tenant {
  return { id: row.id, displayName: row.displayName, createdAtMs: row.createdAt };
}

/** Maps a `providers` row to a ProviderRecord; the client secret stays ciphertext. */
export function toProvider(row: ProviderRow): ProviderRecord {
  return {
    name: row.name,
    profile: row.profile,
    clientSecret: toEncryptedBlob(row.clientSecretCiphertext, row.clientSecretKeyId),
    createdAtMs: row.createdAt,
    updatedAtMs: row.updatedAt,
  };
}

/** Maps a `connections` row to a ConnectionRecord. */
export function toConnection(row: ConnectionRow): ConnectionRecord {
  return {
    id: row.id,
    tenantId: row.tenantId,
    userId: row.userId,
    providerName: row.providerName,
    status: row.status,
    statusReason: row.statusReason,
    scopes: row.scopes,
    params: row.params,
    returnUrl: row.returnUrl,
    createdAtMs: row.createdAt,
    updatedAtMs: row.updatedAt,
    credentialVersion: row.credentialVersion,
    credentialExpiresAtSeconds: row.credentialExpiresAt,
    nextRefreshAtMs: row.nextRefreshAt,
    account: row.accountId === null ? null : { id: row.accountId, email: row.accountEmail, displayName: row.accountDisplayName },
    labels: row.labels,
    metadata: row.metadata,
    reusedConnectionId: row.reusedConnectionId,
  };
}

/** Maps a `credentials` row to a CredentialRecord. */
export function toCredential(row: CredentialRow): CredentialRecord {
  return {
    connectionId: row.connectionId,
    secret: { ciphertext: row.ciphertext, keyId: row.keyId },
    version: row.version,
    expiresAtSeconds: row.expiresAt,
    updatedAtMs: row.updatedAt,
  };
}

/** Maps a `consent_states` row to a ConsentStateRecord. */
export function toConsentState(row: ConsentStateRow): ConsentStateRecord {
  return {
    stateHash: row.stateHash,
    connectionId: row.connectionId,
    secrets: toEncryptedBlob(row.secretsCiphertext, row.secretsKeyId),
    returnUrl: row.returnUrl,
    createdAtMs: row.createdAt,
    expiresAtMs: row.expiresAt,
    usedAtMs: row.usedAt,
  };
}

/** Maps an `api_keys` row to an ApiKeyRecord (the secret's hash, never a secret). */
export function toApiKey(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    prefix: row.prefix,
    secretHash: row.secretHash,
    name: row.name,
    role: row.role,
    tenantId: row.tenantId,
    createdAtMs: row.createdAt,
    expiresAtMs: row.expiresAt,
    revokedAtMs: row.revokedAt,
    lastUsedAtMs: row.lastUsedAt,
    proxyRules: row.proxyRules.map((rule) => ({ provider: rule.provider, methods: [...rule.methods], path: rule.path })),
    proxyOnly: row.proxyOnly,
  };
}

/** Maps an `audit_events` row to an AuditEventRecord. */
export function toAuditEvent(row: AuditEventRow): AuditEventRecord {
  return {
    id: row.id,
    timeMs: row.time,
    action: row.action,
    result: row.result,
    keyId: row.keyId,
    tenantId: row.tenantId,
    connectionId: row.connectionId,
    requestId: row.requestId,
    clientAddress: row.clientAddress,
    details: row.details,
  };
}

/** A `credentials` row as a SealedRef for key rotation; its version is part of the AAD. */
export function toCredentialSealedRef(row: CredentialRow): SealedRef {
  return {
    kind: "credential",
    id: row.connectionId,
    version: row.version,
    blob: { ciphertext: row.ciphertext, keyId: row.keyId },
  };
}

/**
 * A `consent_states` row as a SealedRef. Only rows selected by a key id are passed in, and the
 * schema's CHECK keeps ciphertext and key id both set or both null, so the ciphertext is present.
 */
export function toConsentStateSealedRef(row: ConsentStateRow): SealedRef {
  return {
    kind: "consent_state",
    id: row.stateHash,
    version: 0,
    blob: { ciphertext: row.secretsCiphertext!, keyId: row.secretsKeyId! },
  };
}

/** A `providers` row as a SealedRef; as for consent states, only rows with a key id come here. */
export function toProviderSealedRef(row: ProviderRow): SealedRef {
  return {
    kind: "provider_client_secret",
    id: row.name,
    version: 0,
    blob: { ciphertext: row.clientSecretCiphertext!, keyId: row.clientSecretKeyId! },
  };
}

/**
 * The values of `connections.lease_state`: "calling" while the lease holder calls the provider,
 * "interrupted" after another owner took such a lease over; null otherwise.
 */
export const LEASE_STATE = { calling: "calling", interrupted: "interrupted" } as const;

/** The lease columns a successful claim returns, as `claimRefreshLease`'s result. */
export function toLeaseClaim(row: { credentialVersion: number; leaseState: string | null }): {
  credentialVersion: number;
  wasInterrupted: boolean;
} {
  return { credentialVersion: row.credentialVersion, wasInterrupted: row.leaseState === LEASE_STATE.interrupted };
}

/** A nullable ciphertext + key id column pair as an EncryptedBlob, or null unless both are set. */
function toEncryptedBlob(ciphertext: Uint8Array | null, keyId: string | null): EncryptedBlob | null {
  return ciphertext && keyId !== null ? { ciphertext, keyId } : null;
}
