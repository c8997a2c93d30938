/**
 * Record input → column values for the writes both dialects make alike: new rows (with their
 * defaults) and the SET lists of updates. Keys are the column names of both `schema.ts` files,
 * so either dialect's insert/update builder takes them as they are. Ciphertext is bound as a Buffer
 * (bind-bytes.ts), which both drivers accept; nothing here reads or logs it.
 */
import { type ConnectionStatus, INITIAL_STATUS, type StatusReason } from "../../domain/connection-status.ts";
import type {
  ApiKeyInput,
  AuditEventInput,
  ConnectionChanges,
  ConnectionInput,
  ConsentStateInput,
  CredentialInput,
  EncryptedBlob,
  ProviderChanges,
  ProviderInput,
  TenantInput,
} from "../store.ts";
import { toBuffer, toBufferOrNull } from "./bind-bytes.ts";

/** A new `tenants` row; `displayName` defaults to "". */
export function newTenantRow(input: TenantInput, createdAtMs: number) {
  return { id: input.id, displayName: input.displayName ?? "", createdAt: createdAtMs };
}

/** A new `connections` row: the initial status (pending) unless given, no reason, no scopes or params unless given. */
export function newConnectionRow(id: string, input: ConnectionInput, createdAtMs: number) {
  return {
    id,
    tenantId: input.tenantId,
    userId: input.userId,
    providerName: input.providerName,
    status: input.status ?? INITIAL_STATUS,
    statusReason: input.statusReason ?? null,
    scopes: input.scopes ?? [],
    params: input.params ?? {},
    returnUrl: input.returnUrl ?? null,
    labels: input.labels ?? {},
    createdAt: createdAtMs,
    updatedAt: createdAtMs,
  };
}

/** The SET list of `updateConnectionStatus`: the new status and reason, plus only the changes given. */
export function connectionStatusUpdate(
  next: ConnectionStatus,
  statusReason: StatusReason | null,
  changes: ConnectionChanges,
  updatedAtMs: number,
) {
  return {
    status: next,
    statusReason,
    updatedAt: updatedAtMs,
    ...(changes.scopes !== undefined && { scopes: changes.scopes }),
    ...(changes.returnUrl !== undefined && { returnUrl: changes.returnUrl }),
    ...(changes.nextRefreshAtMs !== undefined && { nextRefreshAt: changes.nextRefreshAtMs }),
    ...(changes.account !== undefined && {
      accountId: changes.account?.id ?? null,
      accountEmail: changes.account?.email ?? null,
      accountDisplayName: changes.account?.displayName ?? null,
    }),
    ...(changes.metadata !== undefined && { metadata: changes.metadata }),
    ...(changes.reusedConnectionId !== undefined && { reusedConnectionId: changes.reusedConnectionId }),
  };
}

/**
 * The SET list on `connections` that claims credential `version` in `saveCredential`; the schedule
 * (`next_refresh_at`) changes only when the input names one.
 */
export function credentialClaimUpdate(version: number, input: CredentialInput, updatedAtMs: number) {
  return {
    credentialVersion: version,
    credentialExpiresAt: input.expiresAtSeconds,
    updatedAt: updatedAtMs,
    ...(input.nextRefreshAtMs !== undefined && { nextRefreshAt: input.nextRefreshAtMs }),
  };
}

/** A new `api_keys` row: the secret's hash only, never expiring unless `expiresAtMs` is given. */
export function newApiKeyRow(id: string, input: ApiKeyInput, createdAtMs: number) {
  return {
    id,
    prefix: input.prefix,
    secretHash: input.secretHash,
    name: input.name,
    role: input.role,
    tenantId: input.tenantId,
    createdAt: createdAtMs,
    expiresAt: input.expiresAtMs ?? null,
    proxyRules: (input.proxyRules ?? []).map((rule) => ({ provider: rule.provider, methods: [...rule.methods], path: rule.path })),
    proxyOnly: input.proxyOnly ?? false,
  };
}

/** A new `audit_events` row (the id is the database's); absent facts are stored as null. */
export function newAuditEventRow(event: AuditEventInput) {
  return {
    time: event.timeMs,
    action: event.action,
    result: event.result,
    keyId: event.keyId ?? null,
    tenantId: event.tenantId ?? null,
    connectionId: event.connectionId ?? null,
    requestId: event.requestId ?? null,
    clientAddress: event.clientAddress ?? null,
    details: event.details ?? {},
  };
}

/** A new `providers` row; the client secret (if any) as ciphertext and key id. */
export function newProviderRow(input: ProviderInput, createdAtMs: number) {
  return {
    name: input.name,
    profile: input.profile,
    ...clientSecretColumns(input.clientSecret),
    createdAt: createdAtMs,
    updatedAt: createdAtMs,
  };
}

/** The SET list of `updateProvider`: only the changes given; `clientSecret: null` clears both columns. */
export function providerUpdate(changes: ProviderChanges, updatedAtMs: number) {
  return {
    updatedAt: updatedAtMs,
    ...(changes.profile !== undefined && { profile: changes.profile }),
    ...(changes.clientSecret !== undefined && clientSecretColumns(changes.clientSecret)),
  };
}

/** The `credentials` columns written by `saveCredential`, for the insert and its upsert alike. */
export function credentialValues(version: number, input: CredentialInput, updatedAtMs: number) {
  return {
    ciphertext: toBuffer(input.secret.ciphertext),
    keyId: input.secret.keyId,
    version,
    expiresAt: input.expiresAtSeconds,
    updatedAt: updatedAtMs,
  };
}

/** A new `consent_states` row; its sealed secrets (if any) as ciphertext and key id. */
export function newConsentStateRow(input: ConsentStateInput, createdAtMs: number) {
  return {
    stateHash: input.stateHash,
    connectionId: input.connectionId,
    secretsCiphertext: toBufferOrNull(input.secrets?.ciphertext),
    secretsKeyId: input.secrets?.keyId ?? null,
    returnUrl: input.returnUrl,
    createdAt: createdAtMs,
    expiresAt: input.expiresAtMs,
  };
}

/** The client-secret column pair: both set, or both null (the schema's CHECK requires it). */
function clientSecretColumns(secret: EncryptedBlob | null | undefined) {
  return { clientSecretCiphertext: toBufferOrNull(secret?.ciphertext), clientSecretKeyId: secret?.keyId ?? null };
}
