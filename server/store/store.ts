/**
 * The storage contract: the domain record types and the one async `Store` interface that every
 * backend (`sqlite/`, later `postgres/`) implements and `conformance.ts` tests.
 * It holds ciphertext, hashes and metadata only — never a plaintext token, client secret, PKCE
 * verifier or raw OAuth state — and it knows nothing about protobuf (no gen/ imports) or SQL dialects.
 * Lookups named `get…` throw NotFoundError; lookups named `find…` return null.
 * Each concern's records and interface live in their own module (tenant-store.ts, connection-store.ts,
 * webhook-store.ts …); this module composes them into `Store` and re-exports their types.
 */
import type { ApiKeyStore } from "./api-key-store.ts";
import type { AuditStore } from "./audit-store.ts";
import type { ConnectionEventStore } from "./connection-event-store.ts";
import type { ConnectionStore } from "./connection-store.ts";
import type { CredentialStore } from "./credential-store.ts";
import type { IdGenerator } from "./id-generator.ts";
import type { ProviderStore } from "./provider-store.ts";
import type { RefreshLeaseStore } from "./refresh-lease-store.ts";
import type { SealedStore } from "./sealed-store.ts";
import type { TenantStore } from "./tenant-store.ts";
import type { WebhookStore } from "./webhook-store.ts";

export type { ApiKeyFilter, ApiKeyInput, ApiKeyRecord, ApiKeyRole, ApiKeyStore } from "./api-key-store.ts";
export type { AuditEventFilter, AuditEventInput, AuditEventRecord, AuditStore } from "./audit-store.ts";
export type { EncryptedBlob, JsonObject, JsonValue, Page, PageRequest } from "./common.ts";
export type { ConnectionEventFilter, ConnectionEventRecord, ConnectionEventStore, ConnectionSnapshot } from "./connection-event-store.ts";
export type {
  ConnectionChanges,
  ConnectionFilter,
  ConnectionForToken,
  ConnectionInput,
  ConnectionRecord,
  ConnectionStore,
} from "./connection-store.ts";
export type { ConsentStateInput, ConsentStateRecord, CredentialInput, CredentialRecord, CredentialStore } from "./credential-store.ts";
export type { ProviderChanges, ProviderInput, ProviderRecord, ProviderStore } from "./provider-store.ts";
export type { DueClaim, RefreshLeaseStore } from "./refresh-lease-store.ts";
export type { SealedKind, SealedRef, SealedStore } from "./sealed-store.ts";
export type { Tenant, TenantInput, TenantStore } from "./tenant-store.ts";
export type {
  WebhookDeliveryRecord,
  WebhookEndpointChanges,
  WebhookEndpointInput,
  WebhookEndpointRecord,
  WebhookFailureInput,
  WebhookReplayOutcome,
  WebhookRetryInput,
  WebhookStore,
} from "./webhook-store.ts";

/** Nexus's persistent state, one interface for every backend. */
export interface Store
  extends TenantStore,
    ProviderStore,
    ConnectionStore,
    ConnectionEventStore,
    CredentialStore,
    ApiKeyStore,
    AuditStore,
    SealedStore,
    RefreshLeaseStore,
    WebhookStore {
  /** Resolves when the database answers a trivial query (readiness). */
  ping(): Promise<void>;
  /** Closes the database; idempotent. No method may be called afterwards. */
  close(): Promise<void>;
}

/** What every backend factory accepts besides where its database is. */
export interface StoreOptions {
  /**
   * Clock for every stored time (created, updated, revoked, audit, lease), in epoch milliseconds:
   * the app's one clock, so the refresh engine, sweeper and key checks compare like with like.
   */
  now: () => number;
  /** Id source for generated ids. Default: 16 random bytes from node:crypto, base62. */
  ids?: IdGenerator;
}
