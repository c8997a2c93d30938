/**
 * API keys in SQLite: the `api_keys` table (rows mapped in ../rows/row-mappers.ts).
 * Only the secret's hash is stored; lookups by hash are exact matches on a unique index.
 * Whether a key is usable (revoked, expired, role) is decided in server/auth/, not here.
 */
import { and, desc, eq, lt, or, type SQL, sql } from "drizzle-orm";
import { AlreadyExistsError, NotFoundError } from "../../domain/errors.ts";
import { PAGE_SPECS, parsePageRequest, toPage } from "../page-request.ts";
import { toApiKey } from "../rows/row-mappers.ts";
import { newApiKeyRow } from "../rows/row-values.ts";
import type { ApiKeyStore } from "../store.ts";
import { runQuery } from "./run-query.ts";
import { apiKeys } from "./schema.ts";
import type { SqliteStoreContext } from "./store-context.ts";

/** Creates the API key methods of the SQLite store. */
export function createSqliteApiKeyStore({ db, now, ids }: SqliteStoreContext): ApiKeyStore {
  return {
    createApiKey: (input) => {
      const id = input.id ?? ids.newId("key");
      return runQuery(
        () => {
          const row = db
            .insert(apiKeys)
            .values(newApiKeyRow(id, input, now()))
            .returning()
            .get();
          return toApiKey(row);
        },
        {
          // Named by id only: the hash that collided is not echoed.
          unique: () => new AlreadyExistsError("api_key", id),
          foreignKey: () => new NotFoundError("tenant", input.tenantId ?? ""),
        },
      );
    },

    getApiKey: (id) =>
      runQuery(() => {
        const row = db.select().from(apiKeys).where(eq(apiKeys.id, id)).get();
        if (!row) throw new NotFoundError("api_key", id);
        return toApiKey(row);
      }),

    findApiKeyByHash: (secretHash) =>
      runQuery(() => {
        const row = db.select().from(apiKeys).where(eq(apiKeys.secretHash, secretHash)).get();
        return row ? toApiKey(row) : null;
      }),

    listApiKeys: (filter, page) =>
      runQuery(() => {
        const spec = PAGE_SPECS.apiKeys;
        const { size, after } = parsePageRequest(page, spec);
        const conditions: (SQL | undefined)[] = [];
        if (filter.tenantId) conditions.push(eq(apiKeys.tenantId, filter.tenantId));
        if (after) {
          const [createdAt, id] = after;
          conditions.push(or(lt(apiKeys.createdAt, createdAt), and(eq(apiKeys.createdAt, createdAt), lt(apiKeys.id, id))));
        }
        const rows = db
          .select()
          .from(apiKeys)
          .where(and(...conditions))
          .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id))
          .limit(size + 1)
          .all();
        return toPage(rows, size, spec, toApiKey, (k) => [k.createdAtMs, k.id]);
      }),

    revokeApiKey: (id) =>
      runQuery(() => {
        const row = db
          .update(apiKeys)
          .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, ${now()})` })
          .where(eq(apiKeys.id, id))
          .returning()
          .get();
        if (!row) throw new NotFoundError("api_key", id);
        return toApiKey(row);
      }),

    markApiKeyUsed: (id, usedAtMs) =>
      runQuery(() => {
        const { changes } = db
          .update(apiKeys)
          .set({ lastUsedAt: sql`max(coalesce(${apiKeys.lastUsedAt}, 0), ${usedAtMs})` })
          .where(eq(apiKeys.id, id))
          .run();
        if (changes === 0) throw new NotFoundError("api_key", id);
      }),
  };
}
