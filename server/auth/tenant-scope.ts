/**
 * Which tenant a call acts in, from the authenticated principal (never from a header): an agent key
 * acts in its own tenant only; an admin key names the tenant when it creates or lists connections,
 * and reaches any connection by id. Another tenant's connection looks exactly like a missing one
 * (NotFoundError), so ids can't be probed across tenants. An agent that *names* another tenant in a
 * request gets PermissionDeniedError whether or not that tenant exists.
 * It also notes the tenant and connection in `kAuditTarget` for the audit interceptor.
 */
import type { HandlerContext } from "@connectrpc/connect";
import { InvalidArgumentError, NotFoundError, PermissionDeniedError } from "../domain/errors.ts";
import { kAuditTarget, kPrincipal } from "../request/context.ts";
import type { Principal } from "../request/principal.ts";
import type { Store } from "../store/store.ts";

/** Tenant resolution for handlers. */
export interface TenantScope {
  /**
   * The tenant to use for connection `connectionId` (an already validated id): the agent's own, or
   * for an admin the connection's tenant. NotFoundError when an admin names a missing connection;
   * for an agent the caller's scoped lookup reports it.
   */
  tenantOfConnection(ctx: HandlerContext, connectionId: string): Promise<string>;
  /**
   * The tenant a create or list acts in, given the request's `tenant_id` ("" when absent): an agent
   * gets its own (naming another is PermissionDeniedError); an admin must name one (InvalidArgumentError).
   */
  tenantOfRequest(ctx: HandlerContext, requestedTenantId: string): string;
}

const TENANT_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** Creates the scope over the store's unscoped lookup (used for admin keys only). */
export function createTenantScope(deps: { store: Pick<Store, "findConnectionById"> }): TenantScope {
  return {
    async tenantOfConnection(ctx, connectionId) {
      const principal = principalOf(ctx);
      noteConnection(ctx, connectionId);
      if (principal.tenantId !== null) return noteTenant(ctx, principal.tenantId);
      const record = await deps.store.findConnectionById(connectionId);
      if (record === null) throw new NotFoundError("connection", connectionId);
      return noteTenant(ctx, record.tenantId);
    },
    tenantOfRequest(ctx, requestedTenantId) {
      const principal = principalOf(ctx);
      if (principal.tenantId !== null) {
        if (requestedTenantId !== "" && requestedTenantId !== principal.tenantId) {
          throw new PermissionDeniedError("tenant", "tenant_id: an agent key acts in its own tenant only");
        }
        return noteTenant(ctx, principal.tenantId);
      }
      if (requestedTenantId === "") throw new InvalidArgumentError("tenant_id", "is required with an admin key");
      if (!TENANT_PATTERN.test(requestedTenantId)) {
        throw new InvalidArgumentError("tenant_id", "must be 1-128 characters of letters, digits, '_' or '-'");
      }
      return noteTenant(ctx, requestedTenantId);
    },
  };
}

/**
 * The caller; a handler reached without one is a wiring bug (the auth interceptor is missing or
 * the method is public), so it fails closed.
 */
function principalOf(ctx: HandlerContext): Principal {
  const principal = ctx.values.get(kPrincipal);
  if (principal === undefined) throw new Error("no principal in context: is the auth interceptor installed?");
  return principal;
}

/** Records the connection the call acts on, for the audit row. */
function noteConnection(ctx: HandlerContext, connectionId: string): void {
  const holder = ctx.values.get(kAuditTarget);
  if (holder !== undefined) holder.connectionId = connectionId;
}

/** Records the tenant the call acts in, for the audit row, and returns it. */
function noteTenant(ctx: HandlerContext, tenantId: string): string {
  const holder = ctx.values.get(kAuditTarget);
  if (holder !== undefined) holder.tenantId = tenantId;
  return tenantId;
}
