/**
 * The storage contract: the domain record types and the one async `Store` interface that every
 * backend (`sqlite/`, later `postgres/`) implements and `conformance.ts` tests.
 * It holds ciphertext, hashes and metadata only — never a plaintext token, client secret, PKCE
 * verifier or raw OAuth state — and it knows nothing about protobuf (no gen/ imports) or SQL dialects.
 * Lookups named `get…` throw NotFoundError; lookups named `find…` return null.
 */
import type { ConnectionAccount } from "../domain/connection-account.ts";
import type { ConnectionEventType } from "../domain/connection-events.ts";
import type { ConnectionStatus, StatusReason } from "../domain/connection-status.ts";
import type { ProxyRule } from "../domain/proxy-rule.ts";
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
  /** The provider account, once learned (consent, re-consent); null before or when unknown. */
  account: ConnectionAccount | null;
  /** The caller's labels from RequestConnection. */
  labels: Record<string, string>;
  /** Non-secret provider values kept at consent (profile connection_extras), e.g. { realm_id: "…" }. */
  metadata: Record<string, string>;
  /** The existing connection a reuse_existing consent ended on (this one is then failed); else null. */
  reusedConnectionId: string | null;
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
  labels?: Record<string, string>;
}

/** Filters of `listConnections`; absent (or empty) fields do not filter. */
export interface ConnectionFilter {
  userId?: string;
  providerName?: string;
  status?: ConnectionStatus;
  /** Only connections whose account id is this. */
  accountId?: string;
  /** Only connections carrying every one of these labels (key and value equal). */
  labels?: Record<string, string>;
}

/**
 * Fields `updateConnectionStatus` may change together with the status; absent fields are kept. The
 * account and metadata change only here, on the connection row, in the same write as a status.
 */
export interface ConnectionChanges {
  scopes?: string[];
  returnUrl?: string | null;
  nextRefreshAtMs?: number | null;
  account?: ConnectionAccount | null;
  metadata?: Record<string, string>;
  reusedConnectionId?: string | null;
}

/**
 * The non-secret picture of a connection that an event carries: what a watcher or webhook receiver
 * may see, i.e. the connection's metadata without the return URL and the refresh schedule. It never
 * holds a secret because ConnectionRecord never does. A field added to ConnectionRecord is part of
 * it (and must be copied by rows/connection-event-rows.ts `connectionSnapshot`) unless omitted here;
 * events stored before the field existed lack it, so readers must treat it as optional.
 */
export type ConnectionSnapshot = Omit<ConnectionRecord, "returnUrl" | "nextRefreshAtMs">;

/**
 * One committed change of a connection, from the `connection_events` log. Written by the store in
 * the same transaction as the change, so every committed change has exactly one event and no
 * rolled-back change has any.
 */
export interface ConnectionEventRecord {
  /**
   * Position in the log: increases with commit order (a reader that has seen `seq` never later
   * finds a smaller one appear). Gaps are possible; the cursor of WatchConnections.
   */
  seq: number;
  /** Stable unique id, `evt_…` (the webhook-id of its deliveries). */
  eventId: string;
  tenantId: string;
  connectionId: string;
  type: ConnectionEventType;
  occurredAtMs: number;
  /** The connection as the change left it. */
  connection: ConnectionSnapshot;
}

/** Filter of `listConnectionEvents`. */
export interface ConnectionEventFilter {
  /** Only this tenant's events; null for every tenant (server-internal readers such as webhooks). */
  tenantId: string | null;
  /** Only events with `seq > afterSeq` (0 for the start of the log). */
  afterSeq: number;
  /** At most this many events (1 … 1000; larger is lowered to 1000). */
  limit: number;
  /** Only this connection's events. */
  connectionId?: string;
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

/** What `getConnectionForToken` reads. */
export interface ConnectionForToken {
  connection: ConnectionRecord;
  credential: CredentialRecord | null;
  /** The provider's profile as the store holds it, serialised; compare texts to reuse a parsed copy. */
  providerProfileJson: string | null;
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
  /** Proxy allow rules (agent keys); empty: none. Set at creation, never changed. */
  proxyRules: ProxyRule[];
  /** A proxy-only key never receives a credential (GetToken, RefreshConnection, WatchCredentials). */
  proxyOnly: boolean;
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
  /** Default: none. */
  proxyRules?: readonly ProxyRule[];
  /** Default: false. */
  proxyOnly?: boolean;
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

/**
 * Connections. Every read and write is scoped to a tenant, except `findConnectionById`. Every write
 * that commits appends exactly one connection event in its transaction (createConnection "created",
 * updateConnectionStatus the new status's type; see ConnectionEventStore); a write that fails appends none.
 * A new method that changes a connection must do the same ("updated" when the status stays).
 */
export interface ConnectionStore {
  /** Creates a connection; NotFoundError("tenant") when the tenant is missing, AlreadyExistsError on a taken id. */
  createConnection(input: ConnectionInput): Promise<ConnectionRecord>;
  /** Reads a connection of the tenant; NotFoundError when missing or another tenant's. */
  getConnection(tenantId: string, id: string): Promise<ConnectionRecord>;
  /**
   * GetToken's read, in one statement: the tenant's connection, its current credential (null when
   * none), and its provider's stored profile as JSON text (null when the provider is missing), so a
   * caller can reuse a parsed profile while the text is unchanged, on every replica alike.
   * NotFoundError when the connection is missing or another tenant's.
   */
  getConnectionForToken(tenantId: string, id: string): Promise<ConnectionForToken>;
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

/**
 * The connection event log. Events are appended by the connection write methods themselves (in
 * their transaction), never by callers; this interface only reads and prunes.
 */
export interface ConnectionEventStore {
  /** Events after `filter.afterSeq`, ascending by seq, at most `filter.limit`. */
  listConnectionEvents(filter: ConnectionEventFilter): Promise<ConnectionEventRecord[]>;
  /**
   * The highest seq the tenant's events (every tenant's with null) ever reached, pruned ones
   * included; 0 when there was none. A cursor here means "from now on".
   */
  latestConnectionEventSeq(tenantId: string | null): Promise<number>;
  /**
   * Retention: deletes the oldest events, a prefix of the log, up to the newest event that
   * occurred before `cutoff` and whose seq is at most `keepAfterSeq` (when given; e.g. the oldest
   * event a webhook still has to deliver, minus one). Records the highest seq deleted (see
   * `connectionEventsPrunedThrough`). Returns how many were deleted.
   */
  deleteConnectionEventsBefore(cutoff: Date, keepAfterSeq?: number): Promise<number>;
  /**
   * The highest seq of the tenant's events (every tenant's with null) that retention deleted; 0
   * when none. A cursor below it may have missed events that are gone: it is expired.
   */
  connectionEventsPrunedThrough(tenantId: string | null): Promise<number>;
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
export type SealedKind = "credential" | "consent_state" | "provider_client_secret" | "webhook_secret" | "webhook_previous_secret";

/** A sealed value found by `listStaleSealed`, with what its AAD is built from. */
export interface SealedRef {
  kind: SealedKind;
  /** Connection id, state hash, provider name or webhook endpoint id. */
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

/** A webhook endpoint: where a tenant's events go, and how far delivery has got. */
export interface WebhookEndpointRecord {
  id: string;
  tenantId: string;
  url: string;
  /** Event types delivered; empty: every type. */
  eventTypes: string[];
  description: string;
  isEnabled: boolean;
  /** The current signing secret (the raw secret bytes, sealed). */
  secret: EncryptedBlob;
  /** The secret before the last rotation, while it still signs; null otherwise. */
  previousSecret: EncryptedBlob | null;
  /** Until when `previousSecret` signs, epoch ms; null when there is none. */
  previousSecretExpiresAtMs: number | null;
  createdAtMs: number;
  updatedAtMs: number;
  /** Sequence number of the last event delivered or given up (0: none yet). */
  cursorSeq: number;
  /** Failed attempts at the event after the cursor. */
  attemptCount: number;
  /** When the event after the cursor may be tried again; null: at once. */
  nextAttemptAtMs: number | null;
  /** When the first failed attempt at the event after the cursor was made; null: none failed. */
  firstFailedAtMs: number | null;
  /** Why the last attempt failed ("status 503", "timeout" …); null after a success. Never a secret. */
  lastError: string | null;
}

/** What `createWebhookEndpoint` takes; `id` defaults to a generated `whe_…` id. */
export interface WebhookEndpointInput {
  id?: string;
  tenantId: string;
  url: string;
  eventTypes?: string[];
  description?: string;
  secret: EncryptedBlob;
  /** Sequence number of the tenant's last event before the endpoint existed: delivery starts after it. Default 0. */
  cursorSeq?: number;
}

/** Fields `updateWebhookEndpoint` changes; absent fields are kept. */
export interface WebhookEndpointChanges {
  url?: string;
  eventTypes?: string[];
  description?: string;
  isEnabled?: boolean;
}

/** An event given up after the retry window (the failure list), replayable by hand. */
export interface WebhookDeliveryRecord {
  id: string;
  endpointId: string;
  tenantId: string;
  eventId: string;
  eventType: string;
  eventSeq: number;
  /** The exact JSON body that was sent (non-secret), so a replay needs nothing else. */
  payload: JsonObject;
  attemptCount: number;
  lastError: string | null;
  /** HTTP status of the last attempt; null when no response came. */
  lastStatusCode: number | null;
  createdAtMs: number;
  /** When a replay succeeded; null while failed. */
  replayedAtMs: number | null;
}

/** What is recorded when an event is given up. */
export interface WebhookFailureInput {
  eventId: string;
  eventType: string;
  eventSeq: number;
  payload: JsonObject;
  attemptCount: number;
  lastError: string | null;
  lastStatusCode: number | null;
}

/** The outcome of one attempt that failed, as the worker stores it. */
export interface WebhookRetryInput {
  attemptCount: number;
  nextAttemptAtMs: number;
  firstFailedAtMs: number;
  lastError: string;
}

/** The outcome of a replay. */
export interface WebhookReplayOutcome {
  isDelivered: boolean;
  lastError: string | null;
  lastStatusCode: number | null;
}

/** Webhook endpoints, their delivery state and the failure list. */
export interface WebhookStore {
  /** Creates an endpoint (cursor 0); NotFoundError("tenant") when the tenant is missing. */
  createWebhookEndpoint(input: WebhookEndpointInput): Promise<WebhookEndpointRecord>;
  /** Reads an endpoint of the tenant; NotFoundError("webhook_endpoint") when missing or another tenant's. */
  getWebhookEndpoint(tenantId: string, id: string): Promise<WebhookEndpointRecord>;
  /** Lists the tenant's endpoints, newest first. */
  listWebhookEndpoints(tenantId: string, page: PageRequest): Promise<Page<WebhookEndpointRecord>>;
  /** Changes an endpoint; NotFoundError when missing or another tenant's. */
  updateWebhookEndpoint(tenantId: string, id: string, changes: WebhookEndpointChanges): Promise<WebhookEndpointRecord>;
  /**
   * Makes `next` the signing secret and the current one the previous secret until
   * `previousExpiresAtMs` (a previous secret from an earlier rotation is dropped). With
   * `previousExpiresAtMs <= now` the old secret stops at once. NotFoundError when missing.
   */
  rotateWebhookSecret(tenantId: string, id: string, next: EncryptedBlob, previousExpiresAtMs: number): Promise<WebhookEndpointRecord>;
  /** Deletes an endpoint and its failure list; NotFoundError when missing or another tenant's. */
  deleteWebhookEndpoint(tenantId: string, id: string): Promise<void>;
  /**
   * Up to `limit` enabled endpoints (any tenant) whose lease is free or expired and whose next
   * attempt is due (`next_attempt_at` null or `<= nowMs`), oldest first (created, then id); with
   * `after`, only those after that endpoint in this order (the worker pages through all of them).
   */
  listDueWebhookEndpoints(nowMs: number, limit: number, after?: { createdAtMs: number; id: string }): Promise<WebhookEndpointRecord[]>;
  /**
   * Takes the endpoint's delivery lease for `owner` until `nowMs + leaseMs`, atomically (one
   * `UPDATE … WHERE` the lease is free, expired or `owner`'s, the endpoint enabled and its next attempt
   * due), and returns the endpoint as claimed; null when another owner holds it, it is disabled,
   * not due or gone. The lease makes one replica deliver an endpoint's events at a time.
   */
  claimWebhookLease(endpointId: string, owner: string, leaseMs: number, nowMs: number): Promise<WebhookEndpointRecord | null>;
  /** Frees the lease if `owner` holds it; otherwise does nothing. */
  releaseWebhookLease(endpointId: string, owner: string): Promise<void>;
  /**
   * Moves the cursor to `seq` (> the current cursor) and clears the retry state, only while `owner`
   * holds the lease; with `failure`, records it in the failure list in the same transaction.
   * Returns false (and writes nothing) when the lease was lost or the cursor already moved.
   */
  advanceWebhookCursor(endpointId: string, owner: string, seq: number, failure?: WebhookFailureInput): Promise<boolean>;
  /** Stores a failed attempt's retry state, only while `owner` holds the lease; false when lost. */
  recordWebhookRetry(endpointId: string, owner: string, retry: WebhookRetryInput): Promise<boolean>;
  /** Lists an endpoint's failure list, newest first; NotFoundError("webhook_endpoint") when missing. */
  listWebhookDeliveries(tenantId: string, endpointId: string, page: PageRequest): Promise<Page<WebhookDeliveryRecord>>;
  /** Reads a failed delivery; NotFoundError("webhook_delivery") when missing or another endpoint's. */
  getWebhookDelivery(tenantId: string, endpointId: string, id: string): Promise<WebhookDeliveryRecord>;
  /**
   * The lowest cursor of the enabled endpoints (any tenant), or null when there are none: the event
   * log's retention keeps every event after it (`deleteConnectionEventsBefore(cutoff, this)`), so no
   * enabled endpoint loses an event it has not delivered. Disabled endpoints do not hold the log.
   */
  oldestWebhookCursorSeq(): Promise<number | null>;
  /** Records a replay attempt (attempt count + 1; on success the replay time). NotFoundError when missing. */
  recordWebhookReplay(tenantId: string, endpointId: string, id: string, outcome: WebhookReplayOutcome): Promise<WebhookDeliveryRecord>;
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
