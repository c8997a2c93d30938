/**
 * Provider profiles in PostgreSQL: the `providers` table (rows mapped in ../rows/row-mappers.ts).
 * The client secret is stored and returned only as vault ciphertext with its key id.
 */
import { asc, eq, gt } from "drizzle-orm";
import { AlreadyExistsError, NotFoundError } from "../../domain/errors.ts";
import { PAGE_SPECS, parsePageRequest, toPage } from "../page-request.ts";
import { toProvider } from "../rows/row-mappers.ts";
import { newProviderRow, providerUpdate } from "../rows/row-values.ts";
import type { ProviderStore } from "../store.ts";
import { byteOrder } from "./byte-order.ts";
import { runQuery } from "./run-query.ts";
import { connections, providers } from "./schema.ts";
import type { PostgresStoreContext } from "./store-context.ts";

/** Creates the provider methods of the PostgreSQL store. */
export function createPostgresProviderStore({ db, now }: PostgresStoreContext): ProviderStore {
  return {
    createProvider: (input) =>
      runQuery(
        async () => {
          const createdAt = now();
          const [row] = await db.insert(providers).values(newProviderRow(input, createdAt)).returning();
          return toProvider(row!);
        },
        { unique: () => new AlreadyExistsError("provider", input.name) },
      ),

    getProvider: (name) =>
      runQuery(async () => {
        const [row] = await db.select().from(providers).where(eq(providers.name, name));
        if (!row) throw new NotFoundError("provider", name);
        return toProvider(row);
      }),

    listProviders: (page) =>
      runQuery(async () => {
        const spec = PAGE_SPECS.providers;
        const { size, after } = parsePageRequest(page, spec);
        const rows = await db
          .select()
          .from(providers)
          .where(after ? gt(byteOrder(providers.name), after[0]) : undefined)
          .orderBy(asc(byteOrder(providers.name)))
          .limit(size + 1);
        return toPage(rows, size, spec, toProvider, (p) => [p.name]);
      }),

    updateProvider: (name, changes) =>
      runQuery(async () => {
        const [row] = await db.update(providers).set(providerUpdate(changes, now())).where(eq(providers.name, name)).returning();
        if (!row) throw new NotFoundError("provider", name);
        return toProvider(row);
      }),

    deleteProvider: (name) =>
      runQuery(async () => {
        const { rowCount } = await db.delete(providers).where(eq(providers.name, name));
        if ((rowCount ?? 0) === 0) throw new NotFoundError("provider", name);
      }),

    isProviderInUse: (name) =>
      runQuery(async () => {
        const rows = await db.select({ id: connections.id }).from(connections).where(eq(connections.providerName, name)).limit(1);
        return rows.length > 0;
      }),
  };
}
