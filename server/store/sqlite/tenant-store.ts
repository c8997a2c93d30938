/**
 * Tenants in SQLite: the `tenants` table (rows mapped in ../rows/row-mappers.ts).
 * Tenant ids are given by the caller; this module never invents one.
 */
import { eq } from "drizzle-orm";
import { AlreadyExistsError, NotFoundError } from "../../domain/errors.ts";
import { toTenant } from "../rows/row-mappers.ts";
import { newTenantRow } from "../rows/row-values.ts";
import type { TenantStore } from "../store.ts";
import { runQuery } from "./run-query.ts";
import { tenants } from "./schema.ts";
import type { SqliteStoreContext } from "./store-context.ts";

/** Creates the tenant methods of the SQLite store. */
export function createSqliteTenantStore({ db, now }: SqliteStoreContext): TenantStore {
  return {
    createTenant: (input) =>
      runQuery(
        () => {
          const row = db.insert(tenants).values(newTenantRow(input, now())).returning().get();
          return toTenant(row);
        },
        { unique: () => new AlreadyExistsError("tenant", input.id) },
      ),

    getTenant: (id) =>
      runQuery(() => {
        const row = db.select().from(tenants).where(eq(tenants.id, id)).get();
        if (!row) throw new NotFoundError("tenant", id);
        return toTenant(row);
      }),

    ensureTenant: (input) =>
      runQuery(() => {
        db.insert(tenants).values(newTenantRow(input, now())).onConflictDoNothing().run();
        const row = db.select().from(tenants).where(eq(tenants.id, input.id)).get();
        if (!row) throw new NotFoundError("tenant", input.id);
        return toTenant(row);
      }),
  };
}
