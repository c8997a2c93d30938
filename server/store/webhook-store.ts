/**
 * The webhook part of the storage contract: endpoints, their delivery state, the failure list, and `WebhookStore`.
 */
import type { EncryptedBlob, JsonObject, Page, PageRequest } from "./common.ts";

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
