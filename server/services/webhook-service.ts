/**
 * WebhookService: proto ⇄ domain for webhook endpoints (admin only, per the permission table). A
 * new or rotated secret is generated here, sealed by the vault before it is stored, and returned
 * once in the response; reads never carry it. URLs pass the SSRF target rules on create and update
 * (form, and the addresses the host resolves to now; each delivery checks again at connect time).
 * ReplayWebhookDelivery sends the stored body again at once, with the same webhook-id (not to a
 * disabled endpoint: FailedPrecondition).
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { WebhookDeliverySchema, WebhookEndpointSchema, WebhookService } from "../../gen/nexus/v1/webhooks_pb.ts";
import { CONNECTION_EVENT_TYPES } from "../domain/connection-events.ts";
import { FailedPreconditionError, InvalidArgumentError, WebhookTargetNotAllowedError } from "../domain/errors.ts";
import { createIdGenerator } from "../store/id-generator.ts";
import type { Store, WebhookDeliveryRecord, WebhookEndpointRecord } from "../store/store.ts";
import type { Vault } from "../vault/vault.ts";
import type { TargetRules } from "../webhooks/target-policy.ts";
import { sealWebhookSecret, signingSecrets } from "../webhooks/webhook-secrets.ts";
import type { WebhookSender } from "../webhooks/webhook-sender.ts";
import { formatSecret, newSecretBytes, signWebhook } from "../webhooks/webhook-signature.ts";
import { requireId } from "./request-fields.ts";

/** Longest rotation overlap a request may ask for, seconds (7 days). */
const MAX_OVERLAP_SECONDS = 7 * 24 * 3600;
const MAX_EVENT_TYPES = 32;
/** Most endpoints per tenant: every event is sent to each, so the count multiplies delivery work. */
export const MAX_ENDPOINTS_PER_TENANT = 100;
/** The event types an endpoint may filter on: connection.created, connection.active … */
const EVENT_TYPES: readonly string[] = CONNECTION_EVENT_TYPES.map((type) => `connection.${type}`);
const MAX_DESCRIPTION = 256;

/** Creates the WebhookService implementation. */
export function createWebhookService(deps: {
  store: Store;
  vault: Pick<Vault, "seal" | "open">;
  rules: TargetRules;
  send: WebhookSender;
  now: () => number;
  /** Default overlap of a rotated-out secret, ms. */
  secretOverlapMs: number;
  /** Told after an endpoint is created or enabled, so delivery starts without waiting for a poll. */
  onEndpointChanged?: () => void;
}): ServiceImpl<typeof WebhookService> {
  const { store, vault } = deps;
  const ids = createIdGenerator();

  async function checkTarget(url: string): Promise<string> {
    const parsed = deps.rules.checkUrl(url);
    try {
      await deps.rules.resolveAllowed(parsed.hostname);
    } catch (err) {
      // A name that does not resolve (yet) is accepted: each delivery resolves and checks again.
      if (err instanceof WebhookTargetNotAllowedError) throw err;
    }
    return parsed.href;
  }

  return {
    async createWebhookEndpoint(req) {
      const tenantId = requireId("tenant_id", req.tenantId);
      if (req.url === "") throw new InvalidArgumentError("url", "is required");
      const url = await checkTarget(req.url);
      const eventTypes = checkEventTypes(req.eventTypes);
      const description = checkDescription(req.description);
      await store.getTenant(tenantId);
      // A soft limit (concurrent creates may pass it by a few): one page of that size is the count.
      const existing = await store.listWebhookEndpoints(tenantId, { pageSize: MAX_ENDPOINTS_PER_TENANT, pageToken: "" });
      if (existing.items.length >= MAX_ENDPOINTS_PER_TENANT) {
        throw new FailedPreconditionError(
          "webhook_endpoint_limit",
          tenantId,
          `the tenant has ${MAX_ENDPOINTS_PER_TENANT} webhook endpoints, the most allowed; delete one first`,
        );
      }
      const bytes = newSecretBytes();
      // The id is chosen first: the sealed secret is bound to it (AAD).
      const id = ids.newId("whe");
      // Delivery starts with the tenant's next event (events older than the endpoint are not sent).
      const cursorSeq = await store.latestConnectionEventSeq(tenantId);
      const record = await store.createWebhookEndpoint({
        id,
        tenantId,
        url,
        eventTypes,
        description,
        secret: sealWebhookSecret(vault, id, bytes),
        cursorSeq,
      });
      deps.onEndpointChanged?.();
      return { endpoint: endpointToProto(record), secret: formatSecret(bytes) };
    },

    async listWebhookEndpoints(req) {
      const page = await store.listWebhookEndpoints(requireId("tenant_id", req.tenantId), {
        pageSize: req.pageSize,
        pageToken: req.pageToken,
      });
      return { endpoints: page.items.map(endpointToProto), nextPageToken: page.nextPageToken };
    },

    async getWebhookEndpoint(req) {
      const record = await store.getWebhookEndpoint(requireId("tenant_id", req.tenantId), requireId("endpoint_id", req.endpointId));
      return { endpoint: endpointToProto(record) };
    },

    async updateWebhookEndpoint(req) {
      const tenantId = requireId("tenant_id", req.tenantId);
      const endpointId = requireId("endpoint_id", req.endpointId);
      if (!req.updateEventTypes && req.eventTypes.length > 0) {
        throw new InvalidArgumentError("event_types", "set update_event_types to replace the filter");
      }
      const record = await store.updateWebhookEndpoint(tenantId, endpointId, {
        url: req.url === undefined ? undefined : await checkTarget(req.url),
        isEnabled: req.enabled,
        description: req.description === undefined ? undefined : checkDescription(req.description),
        eventTypes: req.updateEventTypes ? checkEventTypes(req.eventTypes) : undefined,
      });
      deps.onEndpointChanged?.();
      return { endpoint: endpointToProto(record) };
    },

    async deleteWebhookEndpoint(req) {
      await store.deleteWebhookEndpoint(requireId("tenant_id", req.tenantId), requireId("endpoint_id", req.endpointId));
      return {};
    },

    async rotateWebhookSecret(req) {
      const tenantId = requireId("tenant_id", req.tenantId);
      const endpointId = requireId("endpoint_id", req.endpointId);
      if (req.overlapSeconds !== undefined && req.overlapSeconds > MAX_OVERLAP_SECONDS) {
        throw new InvalidArgumentError("overlap_seconds", `must be at most ${MAX_OVERLAP_SECONDS} (7 days)`);
      }
      const overlapMs = req.overlapSeconds === undefined ? deps.secretOverlapMs : req.overlapSeconds * 1000;
      // Existence (and tenant) first, so a wrong id is NotFound before a secret is made.
      await store.getWebhookEndpoint(tenantId, endpointId);
      const bytes = newSecretBytes();
      const record = await store.rotateWebhookSecret(
        tenantId,
        endpointId,
        sealWebhookSecret(vault, endpointId, bytes),
        deps.now() + overlapMs,
      );
      return { endpoint: endpointToProto(record), secret: formatSecret(bytes) };
    },

    async listWebhookDeliveries(req) {
      const page = await store.listWebhookDeliveries(requireId("tenant_id", req.tenantId), requireId("endpoint_id", req.endpointId), {
        pageSize: req.pageSize,
        pageToken: req.pageToken,
      });
      return { deliveries: page.items.map(deliveryToProto), nextPageToken: page.nextPageToken };
    },

    async replayWebhookDelivery(req) {
      const tenantId = requireId("tenant_id", req.tenantId);
      const endpointId = requireId("endpoint_id", req.endpointId);
      const deliveryId = requireId("delivery_id", req.deliveryId);
      const endpoint = await store.getWebhookEndpoint(tenantId, endpointId);
      // Disabled means nothing is sent (e.g. a receiver taken down or handed over): enable it first.
      if (!endpoint.isEnabled) {
        throw new FailedPreconditionError("webhook_endpoint_disabled", endpointId, "the endpoint is disabled; enable it to replay");
      }
      const delivery = await store.getWebhookDelivery(tenantId, endpointId, deliveryId);
      const body = JSON.stringify(delivery.payload);
      const sentAtMs = deps.now();
      const headers = signWebhook(signingSecrets(vault, endpoint, sentAtMs), delivery.eventId, sentAtMs / 1000, body);
      const outcome = await deps.send(endpoint.url, { ...headers }, body);
      const record = await store.recordWebhookReplay(tenantId, endpointId, deliveryId, {
        isDelivered: outcome.isDelivered,
        lastError: outcome.isDelivered ? null : outcome.error,
        lastStatusCode: outcome.statusCode,
      });
      return { delivery: deliveryToProto(record) };
    },
  };
}

function checkEventTypes(types: readonly string[]): string[] {
  if (types.length > MAX_EVENT_TYPES) throw new InvalidArgumentError("event_types", `must list at most ${MAX_EVENT_TYPES} types`);
  for (const type of types) {
    if (!EVENT_TYPES.includes(type)) throw new InvalidArgumentError("event_types", `must be event types among ${EVENT_TYPES.join(", ")}`);
  }
  return [...new Set(types)];
}

function checkDescription(description: string): string {
  if (description.length > MAX_DESCRIPTION) throw new InvalidArgumentError("description", `must be at most ${MAX_DESCRIPTION} characters`);
  return description;
}

/** The proto view of an endpoint: settings and delivery state, never a secret. */
export function endpointToProto(record: WebhookEndpointRecord): MessageInitShape<typeof WebhookEndpointSchema> {
  return {
    endpointId: record.id,
    tenantId: record.tenantId,
    url: record.url,
    eventTypes: record.eventTypes,
    description: record.description,
    enabled: record.isEnabled,
    createTime: timestampFromMs(record.createdAtMs),
    updateTime: timestampFromMs(record.updatedAtMs),
    previousSecretExpireTime: record.previousSecretExpiresAtMs === null ? undefined : timestampFromMs(record.previousSecretExpiresAtMs),
    deliveredSeq: BigInt(record.cursorSeq),
    attemptCount: record.attemptCount,
    nextAttemptTime: record.nextAttemptAtMs === null ? undefined : timestampFromMs(record.nextAttemptAtMs),
    lastError: record.lastError ?? "",
  };
}

function deliveryToProto(record: WebhookDeliveryRecord): MessageInitShape<typeof WebhookDeliverySchema> {
  return {
    deliveryId: record.id,
    endpointId: record.endpointId,
    eventId: record.eventId,
    eventType: record.eventType,
    eventSeq: BigInt(record.eventSeq),
    attemptCount: record.attemptCount,
    lastError: record.lastError ?? "",
    lastStatusCode: record.lastStatusCode ?? 0,
    createTime: timestampFromMs(record.createdAtMs),
    replayTime: record.replayedAtMs === null ? undefined : timestampFromMs(record.replayedAtMs),
  };
}
