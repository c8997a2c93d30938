/**
 * The tenant part of the storage contract: tenant records and `TenantStore`.
 */

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

/** Tenants. */
export interface TenantStore {
  /** Creates a tenant; AlreadyExistsError when the id is taken. */
  createTenant(input: TenantInput): Promise<Tenant>;
  /** Reads a tenant; NotFoundError when missing. */
  getTenant(id: string): Promise<Tenant>;
  /** Returns the tenant, creating it first when missing (an existing one is not changed). */
  ensureTenant(input: TenantInput): Promise<Tenant>;
}
