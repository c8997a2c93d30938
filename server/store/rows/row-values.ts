/**
 * Record input → column values for the writes both dialects make alike: new rows' defaults and
 * the SET lists of the compare-and-set updates. Keys are the column names of both `schema.ts` files,
 * so either dialect's insert/update builder takes them as they are. Values holding ciphertext stay in
 * the dialect modules: SQLite binds only Buffers, PostgreSQL's bytea converts on its own.
 */
import type { ConnectionStatus } from "../../domain/connection-status.ts";
import type { ApiKeyInput, AuditEventInput, ConnectionChanges, ConnectionInput, CredentialInput, TenantInput } from "../store.ts";

/** A new `tenants` row; `displayName` defaults to "". */
export function newTenantRow(input: TenantInput, createdAtMs: number) {
  return { id: input.id, displayName: input.displayName ?? "", createdAt: createdAtMs };
}

/** A new `connections` row: status "pending", no reason, no scopes or params unless given. */
export function newConnectionRow(id: string, input: ConnectionInput, createdAtMs: number) {
  return {
    id,
    tenantId: input.tenantId,
    userId: input.userId,
    providerName: input.providerName,
    status: input.status ?? "pending",
    statusReason: input.statusReason ?? null,
    scopes: input.scopes ?? [],
    params: input.params ?? {},
    returnUrl: input.returnUrl ?? null,
    createdAt: createdAtMs,
    updatedAt: createdAtMs,
  };
}

/** The SET list of `updateConnectionStatus`: the new status and reason, plus only the changes given. */
export function connectionStatusUpdate(
  next: ConnectionStatus,
  statusReason: string | null,
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
