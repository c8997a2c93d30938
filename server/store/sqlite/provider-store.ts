/**
 * Provider profiles in SQLite: the `providers` table (rows mapped in ../rows/row-mappers.ts).
 * The client secret is stored and returned only as vault ciphertext with its key id.
 */
import { asc, eq, gt, sql } from "drizzle-orm";
import { AlreadyExistsError, NotFoundError } from "../../domain/errors.ts";
import { PAGE_SPECS, parsePageRequest, toPage } from "../page-request.ts";
import { toProvider } from "../rows/row-mappers.ts";
import { newProviderRow, providerUpdate } from "../rows/row-values.ts";
import type { ProviderStore } from "../store.ts";
import { runQuery } from "./run-query.ts";
import { connections, providers } from "./schema.ts";
import type { SqliteStoreContext } from "./store-context.ts";

/** Creates the provider methods of the SQLite store. */
export function createSqliteProviderStore({ db, now }: SqliteStoreContext): ProviderStore {
  // Prepared once: read on every GetToken (see connection-store.ts).
  const byName = db
    .select()
    .from(providers)
    .where(eq(providers.name, sql.placeholder("name")))
    .prepare();
  return {
    createProvider: (input) =>
      runQuery(
        () => {
          const createdAt = now();
          const row = db.insert(providers).values(newProviderRow(input, createdAt)).returning().get();
          return toProvider(row);
        },
        { unique: () => new AlreadyExistsError("provider", input.name) },
      ),

    getProvider: (name) =>
      runQuery(() => {
        const row = byName.get({ name });
        if (!row) throw new NotFoundError("provider", name);
        return toProvider(row);
      }),

    listProviders: (page) =>
      runQuery(() => {
        const spec = PAGE_SPECS.providers;
        const { size, after } = parsePageRequest(page, spec);
        const rows = db
          .select()
          .from(providers)
          .where(after ? gt(providers.name, after[0]) : undefined)
          .orderBy(asc(providers.name))
          .limit(size + 1)
          .all();
        return toPage(rows, size, spec, toProvider, (p) => [p.name]);
      }),

    updateProvider: (name, changes) =>
      runQuery(() => {
        const row = db.update(providers).set(providerUpdate(changes, now())).where(eq(providers.name, name)).returning().get();
        if (!row) throw new NotFoundError("provider", name);
        return toProvider(row);
      }),

    deleteProvider: (name) =>
      runQuery(() => {
        const { changes } = db.delete(providers).where(eq(providers.name, name)).run();
        if (changes === 0) throw new NotFoundError("provider", name);
      }),

    isProviderInUse: (name) =>
      runQuery(() => {
        const row = db.select({ id: connections.id }).from(connections).where(eq(connections.providerName, name)).limit(1).get();
        return row !== undefined;
      }),
  };
}
