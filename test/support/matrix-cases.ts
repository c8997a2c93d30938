/**
 * The access matrix's table: one request per RPC of every service, aimed at tenant A, with fresh
 * resources for the calls that change them (revoke, reconnect, delete, key revocation), and how
 * each method is scoped — which decides what every caller must get (test/access-matrix.test.ts).
 */
import { randomBytes } from "node:crypto";
import type { DescService } from "@bufbuild/protobuf";
import { Health } from "../../gen/grpc/health/v1/health_pb.ts";
import { ServerReflection } from "../../gen/grpc/reflection/v1/reflection_pb.ts";
import { ApiKeyService, Role } from "../../gen/nexus/v1/api_keys_pb.ts";
import { AuditService } from "../../gen/nexus/v1/audit_pb.ts";
import { ConnectionService } from "../../gen/nexus/v1/connections_pb.ts";
import { StrategyType } from "../../gen/nexus/v1/credential_pb.ts";
import { ConnectionEventService } from "../../gen/nexus/v1/events_pb.ts";
import { AuthType, ProviderService } from "../../gen/nexus/v1/providers_pb.ts";
import { TokenService } from "../../gen/nexus/v1/tokens_pb.ts";
import { WebhookService } from "../../gen/nexus/v1/webhooks_pb.ts";
import { sealWebhookSecret } from "../../server/webhooks/webhook-secrets.ts";
import { newSecretBytes } from "../../server/webhooks/webhook-signature.ts";
import { createKeyProvider, PROVIDER, secretValue, seedConnection, TENANT_A } from "./access-fixtures.ts";
import type { TestServer } from "./start-server.ts";

/** How a method is scoped, which decides the expected code per caller. */
export type Kind = "public" | "any" | "admin" | "tenant-request" | "connection";

/** One RPC of the matrix: a request aimed at tenant A (fresh resources where the call changes them). */
export interface Case {
  service: DescService;
  method: string;
  kind: Kind;
  request: () => Promise<Record<string, unknown>>;
  /** The REST call of the same request, when the method has a path. */
  rest?: (request: Record<string, unknown>) => { method: string; path: string; body?: unknown };
  /** What an allowed call must answer; default OK. "open": anything but a denial (not built yet, or a stream still open). */
  allowed?: "ok" | "open";
}

/** What the cases need from the running test. */
export interface MatrixContext {
  server(): TestServer;
  /** Tenant A's long-lived connection (read-only calls). */
  connectionA(): string;
}

const RETURN_URL = "http://localhost:3000/back";
const unique = () => randomBytes(4).toString("hex");

/** The cases, one per RPC. */
export function matrixCases(ctx: MatrixContext): Case[] {
  const server = () => ctx.server();
  const freshConnection = async () => seedConnection(server(), TENANT_A, secretValue("fresh"));
  // A public IP literal: no DNS lookup; nothing is delivered to it (no event follows its creation).
  const hookUrl = "https://93.184.215.14/hook";
  const freshEndpoint = async () => {
    const id = `whe_matrix${unique()}`;
    await server().app.store.ensureTenant({ id: TENANT_A });
    const secret = sealWebhookSecret(server().app.vault, id, newSecretBytes());
    return (
      await server().app.store.createWebhookEndpoint({ id, tenantId: TENANT_A, url: hookUrl, secret, cursorSeq: Number.MAX_SAFE_INTEGER })
    ).id;
  };
  // An endpoint with one failed delivery; its URL is loopback, which this server's rules refuse, so a
  // replay answers at once (with last_error) and nothing leaves the machine.
  const failedDelivery = async () => {
    const id = `whe_matrix${unique()}`;
    await server().app.store.ensureTenant({ id: TENANT_A });
    const secret = sealWebhookSecret(server().app.vault, id, newSecretBytes());
    const store = server().app.store;
    await store.createWebhookEndpoint({ id, tenantId: TENANT_A, url: "https://127.0.0.1:9/hook", secret });
    await store.claimWebhookLease(id, "matrix", 60_000, Date.now());
    const failure = {
      eventId: "evt_matrix",
      eventType: "connection.created",
      eventSeq: 1,
      payload: {},
      attemptCount: 1,
      lastError: "x",
      lastStatusCode: 500,
    };
    await store.advanceWebhookCursor(id, "matrix", Number.MAX_SAFE_INTEGER, failure);
    await store.releaseWebhookLease(id, "matrix");
    const [delivery] = (await store.listWebhookDeliveries(TENANT_A, id, {})).items;
    return { tenantId: TENANT_A, endpointId: id, deliveryId: delivery!.id };
  };
  const hooks = (r: Record<string, unknown>) => `/v1/tenants/${String(r.tenantId)}/webhook-endpoints`;
  return [
    {
      service: ConnectionService,
      method: "RequestConnection",
      kind: "tenant-request",
      request: async () => ({ tenantId: TENANT_A, userId: "u", providerName: PROVIDER, returnUrl: RETURN_URL }),
      rest: (r) => ({
        method: "POST",
        path: "/v1/request-connection",
        body: { tenant_id: r.tenantId, user_id: r.userId, provider_name: r.providerName, return_url: r.returnUrl },
      }),
    },
    {
      service: ConnectionService,
      method: "CheckConnection",
      kind: "connection",
      request: async () => ({ connectionId: ctx.connectionA() }),
      rest: (r) => ({ method: "GET", path: `/v1/check-connection/${String(r.connectionId)}` }),
    },
    {
      service: ConnectionService,
      method: "GetConnection",
      kind: "connection",
      request: async () => ({ connectionId: ctx.connectionA() }),
      rest: (r) => ({ method: "GET", path: `/v1/connections/${String(r.connectionId)}` }),
    },
    {
      service: ConnectionService,
      method: "ListConnections",
      kind: "tenant-request",
      request: async () => ({ tenantId: TENANT_A }),
      rest: (r) => ({ method: "GET", path: `/v1/connections?tenant_id=${String(r.tenantId)}` }),
    },
    {
      service: ConnectionService,
      method: "RevokeConnection",
      kind: "connection",
      request: async () => ({ connectionId: await freshConnection() }),
      rest: (r) => ({ method: "POST", path: `/v1/connections/${String(r.connectionId)}:revoke`, body: {} }),
    },
    {
      service: ConnectionService,
      method: "ReconnectConnection",
      kind: "connection",
      request: async () => ({ connectionId: await freshConnection(), returnUrl: RETURN_URL }),
      rest: (r) => ({ method: "POST", path: `/v1/connections/${String(r.connectionId)}:reconnect`, body: { return_url: r.returnUrl } }),
    },
    {
      service: TokenService,
      method: "GetToken",
      kind: "connection",
      request: async () => ({ connectionId: ctx.connectionA() }),
      rest: (r) => ({ method: "GET", path: `/v1/token/${String(r.connectionId)}` }),
    },
    {
      service: TokenService,
      method: "RefreshConnection",
      kind: "connection",
      allowed: "open",
      request: async () => ({ connectionId: await freshConnection() }),
      rest: (r) => ({ method: "POST", path: `/v1/refresh/${String(r.connectionId)}` }),
    },
    {
      service: TokenService,
      method: "WatchCredentials",
      kind: "connection",
      allowed: "open",
      request: async () => ({ connectionId: ctx.connectionA() }),
    },
    {
      // The first message (the heartbeat that ends the replay) comes at once when it is let in.
      service: ConnectionEventService,
      method: "WatchConnections",
      kind: "tenant-request",
      request: async () => ({ tenantId: TENANT_A }),
    },
    {
      service: ProviderService,
      method: "CreateProvider",
      kind: "admin",
      request: async () => ({ provider: keyProviderInit(`matrix-${unique()}`) }),
      rest: (r) => ({ method: "POST", path: "/v1/providers", body: keyProviderJson(String((r.provider as { name: string }).name)) }),
    },
    {
      service: ProviderService,
      method: "GetProvider",
      kind: "any",
      request: async () => ({ name: PROVIDER }),
      rest: (r) => ({ method: "GET", path: `/v1/providers/${String(r.name)}` }),
    },
    {
      service: ProviderService,
      method: "ListProviders",
      kind: "any",
      request: async () => ({}),
      rest: () => ({ method: "GET", path: "/v1/providers" }),
    },
    {
      service: ProviderService,
      method: "UpdateProvider",
      kind: "admin",
      request: async () => ({ provider: { name: PROVIDER, displayName: `Acme ${unique()}` }, updateMask: { paths: ["display_name"] } }),
      rest: (r) => ({
        method: "PATCH",
        path: `/v1/providers/${PROVIDER}?update_mask=display_name`,
        body: { display_name: (r.provider as { displayName: string }).displayName },
      }),
    },
    {
      service: ProviderService,
      method: "DeleteProvider",
      kind: "admin",
      request: async () => {
        const name = `doomed-${unique()}`;
        await createKeyProvider(server(), name);
        return { name };
      },
      rest: (r) => ({ method: "DELETE", path: `/v1/providers/${String(r.name)}` }),
    },
    {
      service: ProviderService,
      method: "ListCatalogProviders",
      kind: "any",
      request: async () => ({}),
      rest: () => ({ method: "GET", path: "/v1/catalog/providers" }),
    },
    {
      service: ApiKeyService,
      method: "CreateApiKey",
      kind: "admin",
      request: async () => ({ name: "made by matrix", role: Role.AGENT, tenantId: TENANT_A }),
      rest: (r) => ({ method: "POST", path: "/v1/api-keys", body: { name: r.name, role: "agent", tenant_id: r.tenantId } }),
    },
    {
      service: ApiKeyService,
      method: "ListApiKeys",
      kind: "admin",
      request: async () => ({}),
      rest: () => ({ method: "GET", path: "/v1/api-keys" }),
    },
    {
      service: ApiKeyService,
      method: "RevokeApiKey",
      kind: "admin",
      request: async () => ({ keyId: (await server().createKey({ role: "agent", tenantId: TENANT_A })).keyId }),
      rest: (r) => ({ method: "POST", path: `/v1/api-keys/${String(r.keyId)}:revoke`, body: {} }),
    },
    {
      service: AuditService,
      method: "ListAuditEvents",
      kind: "admin",
      request: async () => ({ tenantId: TENANT_A }),
      rest: (r) => ({ method: "GET", path: `/v1/audit-events?tenant_id=${String(r.tenantId)}` }),
    },
    {
      service: WebhookService,
      method: "CreateWebhookEndpoint",
      kind: "admin",
      request: async () => ({ tenantId: TENANT_A, url: hookUrl }),
      rest: (r) => ({ method: "POST", path: hooks(r), body: { url: r.url } }),
    },
    {
      service: WebhookService,
      method: "ListWebhookEndpoints",
      kind: "admin",
      request: async () => ({ tenantId: TENANT_A }),
      rest: (r) => ({ method: "GET", path: hooks(r) }),
    },
    {
      service: WebhookService,
      method: "GetWebhookEndpoint",
      kind: "admin",
      request: async () => ({ tenantId: TENANT_A, endpointId: await freshEndpoint() }),
      rest: (r) => ({ method: "GET", path: `${hooks(r)}/${String(r.endpointId)}` }),
    },
    {
      service: WebhookService,
      method: "UpdateWebhookEndpoint",
      kind: "admin",
      request: async () => ({ tenantId: TENANT_A, endpointId: await freshEndpoint(), enabled: false }),
      rest: (r) => ({ method: "PATCH", path: `${hooks(r)}/${String(r.endpointId)}`, body: { enabled: false } }),
    },
    {
      service: WebhookService,
      method: "DeleteWebhookEndpoint",
      kind: "admin",
      request: async () => ({ tenantId: TENANT_A, endpointId: await freshEndpoint() }),
      rest: (r) => ({ method: "DELETE", path: `${hooks(r)}/${String(r.endpointId)}` }),
    },
    {
      service: WebhookService,
      method: "RotateWebhookSecret",
      kind: "admin",
      request: async () => ({ tenantId: TENANT_A, endpointId: await freshEndpoint() }),
      rest: (r) => ({ method: "POST", path: `${hooks(r)}/${String(r.endpointId)}:rotateSecret`, body: {} }),
    },
    {
      service: WebhookService,
      method: "ListWebhookDeliveries",
      kind: "admin",
      request: async () => ({ tenantId: TENANT_A, endpointId: await freshEndpoint() }),
      rest: (r) => ({ method: "GET", path: `${hooks(r)}/${String(r.endpointId)}/deliveries` }),
    },
    {
      service: WebhookService,
      method: "ReplayWebhookDelivery",
      kind: "admin",
      request: failedDelivery,
      rest: (r) => ({ method: "POST", path: `${hooks(r)}/${String(r.endpointId)}/deliveries/${String(r.deliveryId)}:replay`, body: {} }),
    },
    { service: Health, method: "Check", kind: "public", request: async () => ({ service: "" }) },
    { service: Health, method: "Watch", kind: "public", request: async () => ({ service: "" }) },
    {
      service: ServerReflection,
      method: "ServerReflectionInfo",
      kind: "any",
      request: async () => ({ messageRequest: { case: "listServices", value: "" } }),
    },
  ];
}

function keyProviderInit(name: string) {
  return {
    name,
    displayName: name,
    category: "test",
    authType: AuthType.API_KEY,
    credentialSchema: { type: "object", properties: { api_key: { type: "string" } }, required: ["api_key"] },
    strategy: { type: StrategyType.HEADER, config: { case: "header", value: { headerName: "X-Api-Key", credentialField: "api_key" } } },
  };
}

function keyProviderJson(name: string) {
  return {
    name,
    display_name: name,
    category: "test",
    auth_type: "api_key",
    credential_schema: { type: "object", properties: { api_key: { type: "string" } }, required: ["api_key"] },
    strategy: { type: "header", header: { header_name: "X-Api-Key", credential_field: "api_key" } },
  };
}
