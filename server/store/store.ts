/**
 * The storage contract: the domain record types and the one async `Store` interface that every
 * backend (`sqlite/`, later `postgres/`) implements and `conformance.ts` tests.
 * It holds ciphertext, hashes and metadata only — never a plaintext token, client secret, PKCE
 * verifier or raw OAuth state — and it knows nothing about protobuf (no gen/ imports) or SQL dialects.
 * Lookups named `get…` throw NotFoundError; lookups named `find…` return null.
 */
import type { ConnectionStatus, StatusReason } from "../domain/connection-status.ts";
import type { IdGenerator } from "./id-generator.ts";

/** A JSON value as stored in a JSON column. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A JSON object as stored in a JSON column. */
export type JsonObject = { [key: string]: JsonValue };

/** A value sealed by the vault: its ciphertext and the id of the key that sealed it. */
export interface EncryptedBlob {
  ciphertext: Uint8Array;
  keyId: string;
}

/** A tenant (workspace): every connection and agent key belongs to one. */
export interface Tenant {
  id: string;
  displayName: string;
  createdAtMs: number;
}

/** What `createTenant` / `ensureTenant` take; `displayName` defaults to "". */
export interface TenantInput {
  id: string;
  displayName?: string;
}

/**
 * A stored provider profile. `profile` is the profile owned by `server/providers/` as JSON, without
 * its client secret; the store does not interpret it. The client secret exists only as ciphertext.
 */
export interface ProviderRecord {
  name: string;
  profile: JsonObject;
  clientSecret: EncryptedBlob | null;
  createdAtMs: number;
  updatedAtMs: number;
}

/** What `createProvider` takes. */
export interface ProviderInput {
  name: string;
  profile: JsonObject;
  clientSecret?: EncryptedBlob | null;
}

/** Fields `updateProvider` changes; an absent field is kept, `clientSecret: null` removes the secret. */
export interface ProviderChanges {
  profile?: JsonObject;
  clientSecret?: EncryptedBlob | null;
}

/** A connection's metadata (never its secrets). */
export interface ConnectionRecord {
  id: string;
  tenantId: string;
  /** The caller's own identifier of the end user (the seed's user_id), unique only within a tenant. */
  userId: string;
  providerName: string;
  status: ConnectionStatus;
  /**
   * Machine-readable cause of the status, e.g. "invalid_grant"; null when there is none. New writes
   * take a `StatusReason`; rows written before that set was closed may still hold another string.
   */
  statusReason: string | null;
  scopes: string[];
  /** Per-connection URL parameters, e.g. { shop: "acme" }. */
  params: Record<string, string>;
  returnUrl: string | null;
  createdAtMs: number;
  updatedAtMs: number;
  /** Version of the current credential; 0 before the first. Never decreases, also across deletes. */
  credentialVersion: number;
  /** Expiry of the current credential in Unix seconds; null when none or it does not expire. */
  credentialExpiresAtSeconds: number | null;
  /** When the refresh scheduler should next look at this connection; null when never. */
  nextRefreshAtMs: number | null;
}

/** What `createConnection` takes. Defaults: generated `conn_…` id, status "pending", no scopes/params. */
export interface ConnectionInput {
  id?: string;
  tenantId: string;
  userId: string;
  providerName: string;
  status?: ConnectionStatus;
  statusReason?: StatusReason | null;
  scopes?: string[];
  params?: Record<string, string>;
  returnUrl?: string | null;
}

/** Filters of `listConnections`; absent (or empty) fields do not filter. */
export interface ConnectionFilter {
  userId?: string;
  providerName?: string;
  status?: ConnectionStatus;
}

/** Fields `updateConnectionStatus` may change together with the status; absent fields are kept. */
export interface ConnectionChanges {
  scopes?: string[];
  returnUrl?: string | null;
  nextRefreshAtMs?: number | null;
}

/** The current credential of a connection, sealed by the vault (usage and master secrets alike). */
export interface CredentialRecord {
  connectionId: string;
  secret: EncryptedBlob;
  version: number;
  /** Unix seconds; null when the credential does not expire. */
  expiresAtSeconds: number | null;
  updatedAtMs: number;
}

/** What `saveCredential` takes. `nextRefreshAtMs` absent keeps the connection's current value. */
export interface CredentialInput {
  secret: EncryptedBlob;
  expiresAtSeconds: number | null;
  nextRefreshAtMs?: number | null;
  /**
   * Frees the refresh lease in the same write if this owner (a lease token) still holds it, as
   * `releaseRefreshLease` would: a refresh saves and releases in one write. A lease held by anyone
   * else is left alone (the save itself is fenced by the version, not by the lease).
   */
  releaseLeaseOf?: string;
}

/**
 * A pending OAuth consent, keyed by the SHA-256 hex of the `state` parameter (never the raw state).
 * `secrets` seals what the callback needs back (PKCE verifier, OIDC nonce); null when there is none.
 */
export interface ConsentStateRecord {
  stateHash: string;
  connectionId: string;
  secrets: EncryptedBlob | null;
  returnUrl: string | null;
  createdAtMs: number;
  expiresAtMs: number;
  usedAtMs: number | null;
}

/** What `createConsentState` takes. */
export interface ConsentStateInput {
  stateHash: string;
  connectionId: string;
  secrets: EncryptedBlob | null;
  returnUrl: string | null;
  expiresAtMs: number;
}

/** What an API key may do. */
export type ApiKeyRole = "admin" | "agent";

/** An API key's metadata and the hash of its secret (never the secret). */
export interface ApiKeyRecord {
  id: string;
  /** First characters of the secret, for recognising a key; not secret. */
  prefix: string;
  secretHash: string;
  name: string;
  role: ApiKeyRole;
  /** Tenant of an agent key; null for admin keys. */
  tenantId: string | null;
  createdAtMs: number;
  expiresAtMs: number | null;
  revokedAtMs: number | null;
  lastUsedAtMs: number | null;
}

/** What `createApiKey` takes; `id` defaults to a generated `key_…` id. */
export interface ApiKeyInput {
  id?: string;
  prefix: string;
  secretHash: string;
  name: string;
  role: ApiKeyRole;
  tenantId: string | null;
  expiresAtMs?: number | null;
}

/** Filters of `listApiKeys`. */
export interface ApiKeyFilter {
  tenantId?: string;
}

/** One audited action. Never holds a secret value. */
export interface AuditEventRecord {
  /** Increases with insertion order. */
  id: number;
  timeMs: number;
  action: string;
  result: string;
  keyId: string | null;
  tenantId: string | null;
  connectionId: string | null;
  requestId: string | null;
  clientAddress: string | null;
  details: Record<string, string>;
}

/** What `appendAuditEvents` takes for each event. */
export interface AuditEventInput {
  timeMs: number;
  action: string;
  result: string;
  keyId?: string | null;
  tenantId?: string | null;
  connectionId?: string | null;
  requestId?: string | null;
  clientAddress?: string | null;
  details?: Record<string, string>;
}

/** Filters of `listAuditEvents`: time range is [startTimeMs, endTimeMs). */
export interface AuditEventFilter {
  tenantId?: string;
  connectionId?: string;
  action?: string;
  /** Events of requests made with this API key. */
  keyId?: string;
  startTimeMs?: number;
  endTimeMs?: number;
}

/**
 * A page request. `pageSize` absent or 0 means the list's default (50; audit 100); above the list's
 * maximum (500; audit 1000) it is lowered to it (AIP-158); negative or fractional → InvalidArgumentError.
 */
export interface PageRequest {
  pageSize?: number;
  /** `nextPageToken` of the previous page; opaque. A malformed token → InvalidArgumentError. */
  pageToken?: string;
}

/** One page of a list. `nextPageToken` is "" on the last page. */
export interface Page<T> {
  items: T[];
  nextPageToken: string;
}

/** Tenants. */
export interface TenantStore {
  /** Creates a tenant; AlreadyExistsError when the id is taken. */
  createTenant(input: TenantInput): Promise<Tenant>;
  /** Reads a tenant; NotFoundError when missing. */
  getTenant(id: string): Promise<Tenant>;
  /** Returns the tenant, creating it first when missing (an existing one is not changed). */
  ensureTenant(input: TenantInput): Promise<Tenant>;
}

/** Provider profiles. */
export interface ProviderStore {
  /** Creates a provider; AlreadyExistsError when the name is taken. */
  createProvider(input: ProviderInput): Promise<ProviderRecord>;
  /** Reads a provider; NotFoundError when missing. */
  getProvider(name: string): Promise<ProviderRecord>;
  /** Lists providers by name. */
  listProviders(page: PageRequest): Promise<Page<ProviderRecord>>;
  /** Changes a provider; NotFoundError when missing. */
  updateProvider(name: string, changes: ProviderChanges): Promise<ProviderRecord>;
  /** Deletes a provider (its connections stay, unusable); NotFoundError when missing. */
  deleteProvider(name: string): Promise<void>;
  /** Whether any connection, of any tenant, names the provider. */
  isProviderInUse(name: string): Promise<boolean>;
}

/** Connections. Every read and write is scoped to a tenant, except `findConnectionById`. */
export interface ConnectionStore {
  /** Creates a connection; NotFoundError("tenant") when the tenant is missing, AlreadyExistsError on a taken id. */
  createConnection(input: ConnectionInput): Promise<ConnectionRecord>;
  /** Reads a connection of the tenant; NotFoundError when missing or another tenant's. */
  getConnection(tenantId: string, id: string): Promise<ConnectionRecord>;
  /** Reads a connection of any tenant, or null: only for flows that have no tenant yet (OAuth callback). */
  findConnectionById(id: string): Promise<ConnectionRecord | null>;
  /** Lists the tenant's connections, newest first. */
  listConnections(tenantId: string, filter: ConnectionFilter, page: PageRequest): Promise<Page<ConnectionRecord>>;
  /**
   * Moves a connection to `next` only if its status is one of `expected` (compare-and-set), setting
   * `statusReason` and any `changes`. NotFoundError when missing or another tenant's, ConflictError("status")
   * when the status is not expected, IllegalTransitionError (before any write) when the transition
   * table (domain/connection-status) forbids one of the expected → `next` moves.
   */
  updateConnectionStatus(
    tenantId: string,
    id: string,
    expected: ConnectionStatus | readonly ConnectionStatus[],
    next: ConnectionStatus,
    statusReason: StatusReason | null,
    changes?: ConnectionChanges,
  ): Promise<ConnectionRecord>;
}

/** Credentials and OAuth consent states: the sealed secrets of a connection. */
export interface CredentialStore {
  /**
   * Replaces the connection's credential if its credential version is `expectedVersion`
   * (compare-and-set); the saved version is `expectedVersion + 1`, so a caller can bind it into the
   * ciphertext's AAD. NotFoundError when the connection is missing, ConflictError("version") otherwise.
   */
  saveCredential(connectionId: string, expectedVersion: number, input: CredentialInput): Promise<CredentialRecord>;
  /** Reads the current credential, or null when there is none. */
  getCredential(connectionId: string): Promise<CredentialRecord | null>;
  /** Deletes the current credential (idempotent); the connection's credential version is kept. */
  deleteCredential(connectionId: string): Promise<void>;
  /** Records a consent state; NotFoundError when the connection is missing. */
  createConsentState(input: ConsentStateInput): Promise<ConsentStateRecord>;
  /** Reads a consent state by hash whatever its use or expiry, or null (e.g. to render a capture form). */
  findConsentState(stateHash: string): Promise<ConsentStateRecord | null>;
  /**
   * Marks the state used and returns it, atomically, only if it is unused and `nowMs < expiresAtMs`;
   * otherwise null (unknown, replayed or expired all look the same).
   */
  consumeConsentState(stateHash: string, nowMs: number): Promise<ConsentStateRecord | null>;
  /** Deletes consent states that expired before `expiredBeforeMs`; returns how many. */
  pruneConsentStates(expiredBeforeMs: number): Promise<number>;
}

/** API keys. */
export interface ApiKeyStore {
  /** Creates a key; AlreadyExistsError on a taken id or hash, NotFoundError("tenant") for a missing tenant. */
  createApiKey(input: ApiKeyInput): Promise<ApiKeyRecord>;
  /** Reads a key; NotFoundError when missing. */
  getApiKey(id: string): Promise<ApiKeyRecord>;
  /** Finds a key by its secret hash, revoked and expired ones included (the caller decides), or null. */
  findApiKeyByHash(secretHash: string): Promise<ApiKeyRecord | null>;
  /** Lists keys, newest first. */
  listApiKeys(filter: ApiKeyFilter, page: PageRequest): Promise<Page<ApiKeyRecord>>;
  /** Revokes a key (idempotent: the first revocation time is kept); NotFoundError when missing. */
  revokeApiKey(id: string): Promise<ApiKeyRecord>;
  /** Records that the key authenticated a request at `usedAtMs` (never moves backwards). */
  markApiKeyUsed(id: string, usedAtMs: number): Promise<void>;
}

/** The audit log. */
export interface AuditStore {
  /** Appends events in one transaction, ids in array order. */
  appendAuditEvents(events: readonly AuditEventInput[]): Promise<void>;
  /** Lists events, newest first. */
  listAuditEvents(filter: AuditEventFilter, page: PageRequest): Promise<Page<AuditEventRecord>>;
  /** Deletes events older than `olderThanMs`; returns how many. */
  pruneAuditEvents(olderThanMs: number): Promise<number>;
}

/** Where a sealed value lives, for key rotation. */
export type SealedKind = "credential" | "consent_state" | "provider_client_secret";

/** A sealed value found by `listStaleSealed`, with what its AAD is built from. */
export interface SealedRef {
  kind: SealedKind;
  /** Connection id, state hash or provider name. */
  id: string;
  /** Credential version (part of its AAD); 0 for the other kinds. */
  version: number;
  blob: EncryptedBlob;
}

/** Re-encryption support for `nexus keys rotate`. */
export interface SealedStore {
  /** Up to `limit` sealed values whose key id is not `activeKeyId`, in a stable order. */
  listStaleSealed(activeKeyId: string, limit: number): Promise<SealedRef[]>;
  /**
   * Replaces `ref.blob` by `next` only if the row still holds exactly `ref.blob` (and, for a
   * credential, `ref.version`): a concurrent refresh wins. Returns whether it replaced.
   */
  replaceSealed(ref: SealedRef, next: EncryptedBlob): Promise<boolean>;
  /** How many sealed values each key id protects. */
  countSealedByKey(): Promise<Record<string, number>>;
}

/**
 * What the refresh engine and scheduler need beyond credentials: a per-connection refresh lease
 * (so one replica at a time asks the provider) and the `next_refresh_at` schedule. The lease only
 * avoids duplicate provider calls; correctness rests on `saveCredential`'s version compare-and-set
 * (the fencing token), so a holder whose lease ran out can never overwrite a newer credential.
 */
export interface RefreshLeaseStore {
  /**
   * Takes the connection's refresh lease for `owner` until `nowMs + leaseMs`, atomically, if it is
   * free, expired (`lease_expires_at <= nowMs`) or already `owner`'s (then it is extended). Returns
   * the credential version at the time of the claim, or null while another owner's lease runs.
   * `wasInterrupted` is true when the lease was taken over from another owner that had marked a
   * provider call in flight (see renewRefreshLease) and never released: it died or stalled mid-call,
   * so a rotated refresh token may be lost. The mark carries over until released, so a taker that
   * dies too passes it on. NotFoundError when the connection is missing. Does not change `updatedAtMs`.
   */
  claimRefreshLease(
    connectionId: string,
    owner: string,
    leaseMs: number,
    nowMs: number,
  ): Promise<{ credentialVersion: number; wasInterrupted: boolean } | null>;
  /**
   * Extends `owner`'s lease to `nowMs + leaseMs` if `owner` still holds it (expired or not, as long
   * as nobody took it over); false when it was lost. With `isCalling`, also marks a provider call in
   * flight and sets `next_refresh_at` to the new lease end, so if the holder dies the scheduler
   * retries as soon as the lease runs out. Does not change `updatedAtMs`.
   */
  renewRefreshLease(
    connectionId: string,
    owner: string,
    leaseMs: number,
    nowMs: number,
    options?: { isCalling?: boolean },
  ): Promise<boolean>;
  /** Frees the lease (and its provider-call mark) if `owner` holds it (whether or not it expired); otherwise does nothing. */
  releaseRefreshLease(connectionId: string, owner: string): Promise<void>;
  /**
   * Up to `limit` active connections with `next_refresh_at <= nowMs` and no unexpired lease, soonest
   * first, read through the `next_refresh_at` index so the cost follows the due rows, not the table.
   * Due rows of connections that are no longer active (revoked, attention_required …) get their
   * `next_refresh_at` cleared on the way (at most `limit` per call), so they are not scanned again.
   */
  listDueRefreshes(nowMs: number, limit: number): Promise<ConnectionRecord[]>;
  /**
   * `listDueRefreshes` and a `claimRefreshLease` of each in one statement: takes the refresh lease
   * for `owner` until `nowMs + leaseMs` on up to `limit` due connections (active, due, lease free or
   * expired; soonest first) and returns them, each with whether its lease was taken over from an
   * interrupted provider call. Concurrent callers (replicas) never claim the same row. Clears the
   * schedule of due inactive rows on the way, as listDueRefreshes does.
   */
  claimDueRefreshes(nowMs: number, limit: number, owner: string, leaseMs: number): Promise<DueClaim[]>;
  /** Sets (or, with null, clears) when the scheduler should next look at the connection; NotFoundError when missing. */
  setNextRefresh(connectionId: string, nextRefreshAtMs: number | null): Promise<void>;
  /**
   * Up to `limit` pending connections (of any tenant) not updated since before `updatedBeforeMs`,
   * oldest first: consents nobody finished. Read through `connections_status_updated_idx`.
   */
  listStalePending(updatedBeforeMs: number, limit: number): Promise<ConnectionRecord[]>;
}

/** A due connection whose refresh lease `claimDueRefreshes` took. */
export interface DueClaim {
  connection: ConnectionRecord;
  wasInterrupted: boolean;
}

/** Nexus's persistent state, one interface for every backend. */
export interface Store
  extends TenantStore,
    ProviderStore,
    ConnectionStore,
    CredentialStore,
    ApiKeyStore,
    AuditStore,
    SealedStore,
    RefreshLeaseStore {
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
