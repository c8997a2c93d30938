/**
 * Row ⇄ record mapping for the webhook tables, shared by `sqlite/` and `postgres/` (column names as
 * in both `schema.ts` files). Ciphertext passes through as the bytes the driver read or as a Buffer
 * to bind; nothing here reads or logs it.
 */
import { type Column, type SQL, sql } from "drizzle-orm";
import type {
  EncryptedBlob,
  JsonObject,
  SealedRef,
  WebhookDeliveryRecord,
  WebhookEndpointChanges,
  WebhookEndpointInput,
  WebhookEndpointRecord,
  WebhookFailureInput,
  WebhookReplayOutcome,
  WebhookRetryInput,
} from "../store.ts";
import { toBuffer } from "./bind-bytes.ts";

/** The columns of a `webhook_endpoints` row that `toWebhookEndpoint` reads (the lease stays private). */
export interface WebhookEndpointRow {
  id: string;
  tenantId: string;
  url: string;
  eventTypes: string[];
  description: string;
  isEnabled: boolean;
  secretCiphertext: Uint8Array;
  secretKeyId: string;
  previousSecretCiphertext: Uint8Array | null;
  previousSecretKeyId: string | null;
  previousSecretExpiresAt: number | null;
  createdAt: number;
  updatedAt: number;
  cursorSeq: number;
  attemptCount: number;
  nextAttemptAt: number | null;
  firstFailedAt: number | null;
  lastError: string | null;
}

/** The columns of a `webhook_deliveries` row. */
export interface WebhookDeliveryRow {
  id: string;
  endpointId: string;
  tenantId: string;
  eventId: string;
  eventType: string;
  eventSeq: number;
  payload: JsonObject;
  attemptCount: number;
  lastError: string | null;
  lastStatusCode: number | null;
  createdAt: number;
  replayedAt: number | null;
}

/** A `webhook_endpoints` row as a record. */
export function toWebhookEndpoint(row: WebhookEndpointRow): WebhookEndpointRecord {
  const hasPrevious = row.previousSecretCiphertext !== null && row.previousSecretKeyId !== null;
  return {
    id: row.id,
    tenantId: row.tenantId,
    url: row.url,
    eventTypes: row.eventTypes,
    description: row.description,
    isEnabled: row.isEnabled,
    secret: { ciphertext: row.secretCiphertext, keyId: row.secretKeyId },
    previousSecret: hasPrevious ? { ciphertext: row.previousSecretCiphertext!, keyId: row.previousSecretKeyId! } : null,
    previousSecretExpiresAtMs: hasPrevious ? row.previousSecretExpiresAt : null,
    createdAtMs: row.createdAt,
    updatedAtMs: row.updatedAt,
    cursorSeq: row.cursorSeq,
    attemptCount: row.attemptCount,
    nextAttemptAtMs: row.nextAttemptAt,
    firstFailedAtMs: row.firstFailedAt,
    lastError: row.lastError,
  };
}

/** A `webhook_deliveries` row as a record. */
export function toWebhookDelivery(row: WebhookDeliveryRow): WebhookDeliveryRecord {
  return {
    id: row.id,
    endpointId: row.endpointId,
    tenantId: row.tenantId,
    eventId: row.eventId,
    eventType: row.eventType,
    eventSeq: row.eventSeq,
    payload: row.payload,
    attemptCount: row.attemptCount,
    lastError: row.lastError,
    lastStatusCode: row.lastStatusCode,
    createdAtMs: row.createdAt,
    replayedAtMs: row.replayedAt,
  };
}

/** A new `webhook_endpoints` row: enabled, cursor 0, no previous secret. */
export function newWebhookEndpointRow(id: string, input: WebhookEndpointInput, createdAtMs: number) {
  return {
    id,
    tenantId: input.tenantId,
    url: input.url,
    eventTypes: input.eventTypes ?? [],
    description: input.description ?? "",
    isEnabled: true,
    secretCiphertext: toBuffer(input.secret.ciphertext),
    secretKeyId: input.secret.keyId,
    cursorSeq: input.cursorSeq ?? 0,
    createdAt: createdAtMs,
    updatedAt: createdAtMs,
  };
}

/**
 * The SET list of `updateWebhookEndpoint`: only the changes given. A new URL or an enable also
 * makes the endpoint due at once with a fresh retry count and window: the fix an operator just made
 * is tried now, not after the backoff (up to an hour) earned by the old target.
 */
export function webhookEndpointUpdate(changes: WebhookEndpointChanges, updatedAtMs: number) {
  const isRetriedNow = changes.url !== undefined || changes.isEnabled === true;
  return {
    updatedAt: updatedAtMs,
    ...(isRetriedNow && { attemptCount: 0, nextAttemptAt: null, firstFailedAt: null }),
    ...(changes.url !== undefined && { url: changes.url }),
    ...(changes.eventTypes !== undefined && { eventTypes: changes.eventTypes }),
    ...(changes.description !== undefined && { description: changes.description }),
    ...(changes.isEnabled !== undefined && { isEnabled: changes.isEnabled }),
  };
}

/** The SET list of `rotateWebhookSecret`, given the row's current secret. */
export function webhookRotateUpdate(current: EncryptedBlob, next: EncryptedBlob, previousExpiresAtMs: number, updatedAtMs: number) {
  const keepsPrevious = previousExpiresAtMs > updatedAtMs;
  return {
    secretCiphertext: toBuffer(next.ciphertext),
    secretKeyId: next.keyId,
    previousSecretCiphertext: keepsPrevious ? toBuffer(current.ciphertext) : null,
    previousSecretKeyId: keepsPrevious ? current.keyId : null,
    previousSecretExpiresAt: keepsPrevious ? previousExpiresAtMs : null,
    updatedAt: updatedAtMs,
  };
}

/** The SET list after an event is delivered or given up: cursor moved, retry state cleared. */
export function webhookAdvanceUpdate(seq: number) {
  return { cursorSeq: seq, attemptCount: 0, nextAttemptAt: null, firstFailedAt: null, lastError: null };
}

/** The SET list after a failed attempt. */
export function webhookRetryUpdate(retry: WebhookRetryInput) {
  return {
    attemptCount: retry.attemptCount,
    nextAttemptAt: retry.nextAttemptAtMs,
    firstFailedAt: retry.firstFailedAtMs,
    lastError: retry.lastError,
  };
}

/** A new `webhook_deliveries` row (the failure list). */
export function newWebhookDeliveryRow(id: string, endpointId: string, tenantId: string, failure: WebhookFailureInput, createdAtMs: number) {
  return {
    id,
    endpointId,
    tenantId,
    eventId: failure.eventId,
    eventType: failure.eventType,
    eventSeq: failure.eventSeq,
    payload: failure.payload,
    attemptCount: failure.attemptCount,
    lastError: failure.lastError,
    lastStatusCode: failure.lastStatusCode,
    createdAt: createdAtMs,
  };
}

/** The SET list of `recordWebhookReplay`: one more attempt; the replay time only on success. */
export function webhookReplayUpdate(
  attemptCount: Column,
  outcome: WebhookReplayOutcome,
  nowMs: number,
): Record<string, SQL | number | string | null> {
  return {
    attemptCount: sql`${attemptCount} + 1`,
    lastError: outcome.lastError,
    lastStatusCode: outcome.lastStatusCode,
    ...(outcome.isDelivered && { replayedAt: nowMs }),
  };
}

/** The stale sealed values of a `webhook_endpoints` row, for key rotation: its secret and/or previous secret. */
export function toWebhookSealedRefs(row: WebhookEndpointRow, activeKeyId: string): SealedRef[] {
  const refs: SealedRef[] = [];
  if (row.secretKeyId !== activeKeyId) {
    refs.push({ kind: "webhook_secret", id: row.id, version: 0, blob: { ciphertext: row.secretCiphertext, keyId: row.secretKeyId } });
  }
  if (row.previousSecretCiphertext !== null && row.previousSecretKeyId !== null && row.previousSecretKeyId !== activeKeyId) {
    refs.push({
      kind: "webhook_previous_secret",
      id: row.id,
      version: 0,
      blob: { ciphertext: row.previousSecretCiphertext, keyId: row.previousSecretKeyId },
    });
  }
  return refs;
}
