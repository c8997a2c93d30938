/**
 * The audit vocabulary: every action name, which RPCs are audited under which action (read by the
 * audit interceptor), and helpers for the events that happen outside an RPC's own lifetime: each
 * credential delivered on a WatchCredentials stream, and background refresh outcomes. What is not
 * here is not audited (plain reads of metadata such as CheckConnection are logged, not audited).
 */
import type { HandlerContext } from "@connectrpc/connect";
import { formatProxyRule } from "../domain/proxy-rule.ts";
import { kAuditTarget, kClientAddress, kPrincipal, kRequestId } from "../request/context.ts";
import type { AuditWriter } from "./audit-writer.ts";

/** Every audit action. */
export const AUDIT_ACTIONS = {
  tokenRead: "token.read",
  tokenWatch: "token.watch",
  tokenDeliver: "token.deliver",
  tokenRefresh: "token.refresh",
  consentStart: "consent.start",
  consentFinish: "consent.finish",
  consentFail: "consent.fail",
  connectionRevoke: "connection.revoke",
  providerCreate: "provider.create",
  providerUpdate: "provider.update",
  providerDelete: "provider.delete",
  apiKeyCreate: "api_key.create",
  apiKeyRevoke: "api_key.revoke",
  requestDenied: "request.denied",
  proxyCall: "proxy.call",
  webhookCreate: "webhook.create",
  webhookUpdate: "webhook.update",
  webhookDelete: "webhook.delete",
  webhookRotateSecret: "webhook.rotate_secret",
  webhookReplay: "webhook.replay",
} as const;

/** An audit action name. */
export type AuditAction = (typeof AUDIT_ACTIONS)[keyof typeof AUDIT_ACTIONS];

/** Non-secret facts an audited RPC adds from its request and (on success) its response. */
export interface AuditFacts {
  tenantId?: string;
  connectionId?: string;
  details?: Record<string, string>;
}

/** How one RPC is audited. */
export interface AuditedMethod {
  action: AuditAction;
  /**
   * True when a successful call hands out a credential: its event must be accepted by the audit
   * buffer (`AuditWriter.admit`) or the call fails Unavailable instead (fail closed).
   */
  isCredentialDelivery?: boolean;
  /** Facts from the (unary) request and response messages; ids only, never secret fields. */
  facts?: (request: unknown, response: unknown) => AuditFacts;
}

const field = (message: unknown, ...path: string[]): string | undefined => {
  let value: unknown = message;
  for (const key of path) value = typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  return typeof value === "string" && value !== "" ? value : undefined;
};
const details = (entries: Record<string, string | undefined>): Record<string, string> =>
  Object.fromEntries(Object.entries(entries).filter((e): e is [string, string] => e[1] !== undefined));

/**
 * The created key's proxy rules (normalised text form, "; "-separated, cut at 250 characters) and
 * their count, and its proxy-only flag, from the
 * response: rules and flags only, never the secret. Absent when the key has neither.
 */
function keyAccessDetails(response: unknown): Record<string, string | undefined> {
  const key = (response as { apiKey?: { proxyRules?: unknown; proxyOnly?: unknown } } | undefined)?.apiKey;
  const rules = Array.isArray(key?.proxyRules) ? (key.proxyRules as { provider: string; methods: string[]; path: string }[]) : [];
  // Audit values are capped at 256 characters: the count says how many rules there are in full.
  const text = rules.map((rule) => formatProxyRule(rule)).join("; ");
  return {
    proxy_rules: rules.length === 0 ? undefined : text.length > 250 ? `${text.slice(0, 249)}…` : text,
    proxy_rule_count: rules.length === 0 ? undefined : String(rules.length),
    proxy_only: key?.proxyOnly === true ? "true" : undefined,
  };
}

/** The host of a webhook URL, for audit details: never its path or query, which may carry tokens. */
const webhookHost = (message: unknown, ...path: string[]): string | undefined => {
  const url = field(message, ...path);
  return url !== undefined && URL.canParse(url) ? new URL(url).host : undefined;
};

/** Audited webhook RPCs (endpoint changes; never the secret, never the URL's path or query). */
const WEBHOOK_METHODS: Readonly<Record<string, AuditedMethod>> = {
  "nexus.v1.WebhookService/CreateWebhookEndpoint": {
    action: AUDIT_ACTIONS.webhookCreate,
    facts: (req, res) => ({
      tenantId: field(req, "tenantId"),
      details: details({ endpoint_id: field(res, "endpoint", "endpointId"), host: webhookHost(req, "url") }),
    }),
  },
  "nexus.v1.WebhookService/UpdateWebhookEndpoint": {
    action: AUDIT_ACTIONS.webhookUpdate,
    facts: (req, res) => ({
      tenantId: field(req, "tenantId"),
      details: details({
        endpoint_id: field(req, "endpointId"),
        host: webhookHost(req, "url"),
        enabled:
          typeof (res as { endpoint?: { enabled?: unknown } } | undefined)?.endpoint?.enabled === "boolean"
            ? String((res as { endpoint: { enabled: boolean } }).endpoint.enabled)
            : undefined,
      }),
    }),
  },
  "nexus.v1.WebhookService/DeleteWebhookEndpoint": {
    action: AUDIT_ACTIONS.webhookDelete,
    facts: (req) => ({ tenantId: field(req, "tenantId"), details: details({ endpoint_id: field(req, "endpointId") }) }),
  },
  "nexus.v1.WebhookService/RotateWebhookSecret": {
    action: AUDIT_ACTIONS.webhookRotateSecret,
    facts: (req) => ({ tenantId: field(req, "tenantId"), details: details({ endpoint_id: field(req, "endpointId") }) }),
  },
  "nexus.v1.WebhookService/ReplayWebhookDelivery": {
    action: AUDIT_ACTIONS.webhookReplay,
    facts: (req) => ({
      tenantId: field(req, "tenantId"),
      details: details({ endpoint_id: field(req, "endpointId"), delivery_id: field(req, "deliveryId") }),
    }),
  },
};

/** Audited RPCs, keyed "package.Service/Method". */
export const AUDITED_METHODS: Readonly<Record<string, AuditedMethod>> = {
  "nexus.v1.TokenService/GetToken": { action: AUDIT_ACTIONS.tokenRead, isCredentialDelivery: true },
  "nexus.v1.TokenService/RefreshConnection": {
    action: AUDIT_ACTIONS.tokenRefresh,
    isCredentialDelivery: true,
    facts: () => ({ details: { trigger: "request" } }),
  },
  "nexus.v1.TokenService/WatchCredentials": { action: AUDIT_ACTIONS.tokenWatch },
  "nexus.v1.ConnectionService/RequestConnection": {
    action: AUDIT_ACTIONS.consentStart,
    facts: (req, res) => ({
      connectionId: field(res, "connectionId"),
      details: details({ provider: field(req, "providerName"), user_id: field(req, "userId") }),
    }),
  },
  "nexus.v1.ConnectionService/ReconnectConnection": {
    action: AUDIT_ACTIONS.consentStart,
    facts: () => ({ details: { reconnect: "true" } }),
  },
  "nexus.v1.ConnectionService/RevokeConnection": { action: AUDIT_ACTIONS.connectionRevoke },
  "nexus.v1.ProviderService/CreateProvider": {
    action: AUDIT_ACTIONS.providerCreate,
    facts: (req) => ({ details: details({ provider: field(req, "provider", "name") }) }),
  },
  "nexus.v1.ProviderService/UpdateProvider": {
    action: AUDIT_ACTIONS.providerUpdate,
    facts: (req) => ({ details: details({ provider: field(req, "provider", "name") }) }),
  },
  "nexus.v1.ProviderService/DeleteProvider": {
    action: AUDIT_ACTIONS.providerDelete,
    facts: (req) => ({ details: details({ provider: field(req, "name") }) }),
  },
  "nexus.v1.ApiKeyService/CreateApiKey": {
    action: AUDIT_ACTIONS.apiKeyCreate,
    facts: (req, res) => ({
      tenantId: field(req, "tenantId"),
      details: details({
        created_key_id: field(res, "apiKey", "keyId"),
        name: field(req, "name"),
        ...keyAccessDetails(res),
      }),
    }),
  },
  "nexus.v1.ApiKeyService/RevokeApiKey": {
    action: AUDIT_ACTIONS.apiKeyRevoke,
    facts: (req) => ({ details: details({ revoked_key_id: field(req, "keyId") }) }),
  },
  ...WEBHOOK_METHODS,
};

/**
 * Records one credential delivered on a WatchCredentials stream (call it before each event is sent),
 * with the caller's key, request id and address taken from the handler context. The tenant defaults
 * to the one the tenant scope resolved for this call (an admin's stream names the connection's tenant).
 *
 * `streams` > 1 records one delivery of the version to that many streams of one delivery group
 * (`credentialDeliveryGroup`: same key, tenant and client address; `ctx` is one of them) as one row:
 * details.streams holds the count and the row has no request id (each stream's own token.watch row
 * has it). One stream: exactly the row of a single delivery.
 * @throws StoreUnavailableError when the audit buffer cannot take it: the credential must not be sent.
 */
export function auditCredentialDelivered(
  audit: Pick<AuditWriter, "admit">,
  ctx: Pick<HandlerContext, "values">,
  event: { connectionId: string; version: number | bigint; tenantId?: string; streams?: number },
): void {
  const principal = ctx.values.get(kPrincipal);
  const streams = event.streams ?? 1;
  audit.admit({
    action: AUDIT_ACTIONS.tokenDeliver,
    result: "ok",
    keyId: principal?.keyId,
    tenantId: event.tenantId ?? ctx.values.get(kAuditTarget)?.tenantId ?? principal?.tenantId,
    connectionId: event.connectionId,
    // "" (stored as null), not undefined: a grouped row must not inherit an ambient request id.
    requestId: streams > 1 ? "" : ctx.values.get(kRequestId),
    clientAddress: ctx.values.get(kClientAddress),
    details: streams > 1 ? { version: String(event.version), streams: String(streams) } : { version: String(event.version) },
  });
}

/**
 * What the streams whose deliveries of one version may share one token.deliver row have in common:
 * every field of the row but the request id (key, tenant, client address; the connection and
 * version are the event's).
 */
export function credentialDeliveryGroup(ctx: Pick<HandlerContext, "values">): string {
  const principal = ctx.values.get(kPrincipal);
  const tenantId = ctx.values.get(kAuditTarget)?.tenantId ?? principal?.tenantId ?? "";
  return `${principal?.keyId ?? ""}\n${tenantId}\n${ctx.values.get(kClientAddress)}`;
}

/**
 * Records the outcome of a refresh the server ran on its own (schedule, or on a read of an expiring
 * token). `result` is "ok" or a short code such as "invalid_grant" / "unavailable"; never a
 * provider's error description.
 */
export function auditRefreshOutcome(
  audit: Pick<AuditWriter, "record">,
  event: {
    tenantId: string;
    connectionId: string;
    result: string;
    trigger: "scheduled" | "on_read" | "request" | "engine";
    version?: number;
  },
): void {
  audit.record({
    action: AUDIT_ACTIONS.tokenRefresh,
    result: event.result,
    tenantId: event.tenantId,
    connectionId: event.connectionId,
    details: details({ trigger: event.trigger, version: event.version === undefined ? undefined : String(event.version) }),
  });
}
