/**
 * The connection part of the storage contract: connection records, their filters and changes, and `ConnectionStore`.
 */
import type { ConnectionAccount } from "../domain/connection-account.ts";
import type { ConnectionStatus, StatusReason } from "../domain/connection-status.ts";
import type { Page, PageRequest } from "./common.ts";
import type { CredentialRecord } from "./credential-store.ts";

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

/** What `getConnectionForToken` reads. */
export interface ConnectionForToken {
  connection: ConnectionRecord;
  credential: CredentialRecord | null;
  /** The provider's profile as the store holds it, serialised; compare texts to reuse a parsed copy. */
  providerProfileJson: string | null;
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
