/**
 * Tenants in PostgreSQL: the `tenants` table (rows mapped in ../rows/row-mappers.ts).
 * Tenant ids are given by the caller; this module never invents one.
 */
import { eq } from "drizzle-orm";
import { AlreadyExistsError, NotFoundError } from "../../domain/errors.ts";
import { toTenant } from "../rows/row-mappers.ts";
import { newTenantRow } from "../rows/row-values.ts";
import type { TenantStore } from "../store.ts";
import { runQuery } from "./run-query.ts";
import { tenants } from "./schema.ts";
import type { PostgresStoreContext } from "./store-context.ts";

/** Creates the tenant methods of the PostgreSQL store. */
export function createPostgresTenantStore({ db, now }: PostgresStoreContext): TenantStore {
  return {
    createTenant: (input) =>
      runQuery(
        async () => {
          const [row] = await db.insert(tenants).values(newTenantRow(input, now())).returning();
          return toTenant(row!);
        },
        { unique: () => new AlreadyExistsError("tenant", input.id) },
      ),

    getTenant: (id) =>
      runQuery(async () => {
        const [row] = await db.select().from(tenants).where(eq(tenants.id, id));
        if (!row) throw new NotFoundError("tenant", id);
        return toTenant(row);
      }),

    ensureTenant: (input) =>
      runQuery(async () => {
        // ON CONFLICT DO NOTHING: a concurrent creator wins without an error, and the read below
        // then returns its row.
        await db.insert(tenants).values(newTenantRow(input, now())).onConflictDoNothing();
        const [row] = await db.select().from(tenants).where(eq(tenants.id, input.id));
        if (!row) throw new NotFoundError("tenant", input.id);
        return toTenant(row);
      }),
  };
}
