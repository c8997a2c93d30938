/**
 * The one permission table: every RPC the server routes, mapped to the roles that may call it, or
 * "public". The auth interceptor enforces it; a method missing here is refused for everyone (fail
 * closed), and a test checks that every routed method has a row. Tenant scoping (an agent sees only
 * its own tenant's connections) is not decided here but in tenant-scope.ts.
 *
 * | service              | methods                                                     | roles          |
 * |----------------------|-------------------------------------------------------------|----------------|
 * | ConnectionService    | all                                                         | admin, agent   |
 * | TokenService         | all                                                         | admin, agent   |
 * | ConnectionEventService | WatchConnections (tenant-scoped: admins name the tenant)  | admin, agent   |
 * | ProviderService      | GetProvider, ListProviders, ListCatalogProviders            | admin, agent   |
 * | ProviderService      | CreateProvider, UpdateProvider, DeleteProvider              | admin          |
 * | ApiKeyService        | all                                                         | admin          |
 * | AuditService         | all                                                         | admin          |
 * | WebhookService       | all                                                         | admin          |
 * | grpc.health.v1       | Check, Watch                                                | public         |
 * | grpc.reflection.v1   | ServerReflectionInfo                                        | admin, agent   |
 *
 * Admin keys may also read tokens: an admin can mint an agent key for any tenant anyway, so refusing
 * would only add a step, not a boundary; every read is audited with the key id either way.
 *
 * Proxy-only agent keys (`canReadTokens` false) are refused every method in `CREDENTIAL_METHODS`,
 * the ones whose answer carries a credential (TOKEN_ACCESS_DISABLED): they reach providers only
 * through the credential proxy, which applies the credential server-side.
 */
import type { ApiKeyRole } from "../store/store.ts";

/** Who may call a method. */
export type MethodAccess = "public" | readonly ApiKeyRole[];

const ANY_KEY: readonly ApiKeyRole[] = ["admin", "agent"];
const ADMIN: readonly ApiKeyRole[] = ["admin"];

/** Access per method, keyed "package.Service/Method". */
export const PERMISSIONS: Readonly<Record<string, MethodAccess>> = {
  "nexus.v1.ConnectionService/RequestConnection": ANY_KEY,
  "nexus.v1.ConnectionService/CheckConnection": ANY_KEY,
  "nexus.v1.ConnectionService/GetConnection": ANY_KEY,
  "nexus.v1.ConnectionService/ListConnections": ANY_KEY,
  "nexus.v1.ConnectionService/RevokeConnection": ANY_KEY,
  "nexus.v1.ConnectionService/ReconnectConnection": ANY_KEY,
  "nexus.v1.TokenService/GetToken": ANY_KEY,
  "nexus.v1.TokenService/RefreshConnection": ANY_KEY,
  "nexus.v1.TokenService/WatchCredentials": ANY_KEY,
  "nexus.v1.ConnectionEventService/WatchConnections": ANY_KEY,
  // Profiles hold no secret (the client secret is write-only), and agents need provider names.
  "nexus.v1.ProviderService/GetProvider": ANY_KEY,
  "nexus.v1.ProviderService/ListProviders": ANY_KEY,
  "nexus.v1.ProviderService/ListCatalogProviders": ANY_KEY,
  "nexus.v1.ProviderService/CreateProvider": ADMIN,
  "nexus.v1.ProviderService/UpdateProvider": ADMIN,
  "nexus.v1.ProviderService/DeleteProvider": ADMIN,
  "nexus.v1.ApiKeyService/CreateApiKey": ADMIN,
  "nexus.v1.ApiKeyService/ListApiKeys": ADMIN,
  "nexus.v1.ApiKeyService/RevokeApiKey": ADMIN,
  "nexus.v1.AuditService/ListAuditEvents": ADMIN,
  // Endpoints receive every connection event of a tenant and hold signing secrets: operators only.
  "nexus.v1.WebhookService/CreateWebhookEndpoint": ADMIN,
  "nexus.v1.WebhookService/ListWebhookEndpoints": ADMIN,
  "nexus.v1.WebhookService/GetWebhookEndpoint": ADMIN,
  "nexus.v1.WebhookService/UpdateWebhookEndpoint": ADMIN,
  "nexus.v1.WebhookService/DeleteWebhookEndpoint": ADMIN,
  "nexus.v1.WebhookService/RotateWebhookSecret": ADMIN,
  "nexus.v1.WebhookService/ListWebhookDeliveries": ADMIN,
  "nexus.v1.WebhookService/ReplayWebhookDelivery": ADMIN,
  // Load balancers and orchestrators probe health without credentials.
  "grpc.health.v1.Health/Check": "public",
  "grpc.health.v1.Health/Watch": "public",
  // Reflection lists the API surface: harmless, but no reason to show it to anonymous callers.
  "grpc.reflection.v1.ServerReflection/ServerReflectionInfo": ANY_KEY,
};

/**
 * The methods whose responses carry a usage credential (nexus.v1.Credential): a proxy-only key may
 * call none of them. A test walks every routed method's response type and fails when a method that
 * can return a Credential is missing here.
 */
export const CREDENTIAL_METHODS: ReadonlySet<string> = new Set([
  "nexus.v1.TokenService/GetToken",
  "nexus.v1.TokenService/RefreshConnection",
  "nexus.v1.TokenService/WatchCredentials",
]);

/** Whether a principal that may not read tokens is refused this method. */
export function deliversCredentials(serviceTypeName: string, methodName: string): boolean {
  return CREDENTIAL_METHODS.has(`${serviceTypeName}/${methodName}`);
}

/** The access rule of a method; undefined (refuse) when the table has no row for it. */
export function accessOf(serviceTypeName: string, methodName: string): MethodAccess | undefined {
  return PERMISSIONS[`${serviceTypeName}/${methodName}`];
}
