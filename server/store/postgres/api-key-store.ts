/**
 * API keys in PostgreSQL: the `api_keys` table (rows mapped in ../rows/row-mappers.ts).
 * Only the secret's hash is stored; lookups by hash are exact matches on a unique index.
 * Whether a key is usable (revoked, expired, role) is decided in server/auth/, not here.
 */
import { and, desc, eq, lt, or, type SQL, sql } from "drizzle-orm";
import { AlreadyExistsError, NotFoundError } from "../../domain/errors.ts";
import { PAGE_SPECS, parsePageRequest, toPage } from "../page-request.ts";
import { toApiKey } from "../rows/row-mappers.ts";
import { newApiKeyRow } from "../rows/row-values.ts";
import type { ApiKeyStore } from "../store.ts";
import { byteOrder } from "./byte-order.ts";
import { runQuery } from "./run-query.ts";
import { apiKeys } from "./schema.ts";
import type { PostgresStoreContext } from "./store-context.ts";

/** Creates the API key methods of the PostgreSQL store. */
export function createPostgresApiKeyStore({ db, now, ids }: PostgresStoreContext): ApiKeyStore {
  return {
    createApiKey: (input) => {
      const id = input.id ?? ids.newId("key");
      return runQuery(
        async () => {
          const [row] = await db
            .insert(apiKeys)
            .values(newApiKeyRow(id, input, now()))
            .returning();
          return toApiKey(row!);
        },
        {
          // Named by id only: the hash that collided is not echoed.
          unique: () => new AlreadyExistsError("api_key", id),
          foreignKey: () => new NotFoundError("tenant", input.tenantId ?? ""),
        },
      );
    },

    getApiKey: (id) =>
      runQuery(async () => {
        const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, id));
        if (!row) throw new NotFoundError("api_key", id);
        return toApiKey(row);
      }),

    findApiKeyByHash: (secretHash) =>
      runQuery(async () => {
        const [row] = await db.select().from(apiKeys).where(eq(apiKeys.secretHash, secretHash));
        return row ? toApiKey(row) : null;
      }),

    listApiKeys: (filter, page) =>
      runQuery(async () => {
        const spec = PAGE_SPECS.apiKeys;
        const { size, after } = parsePageRequest(page, spec);
        const conditions: (SQL | undefined)[] = [];
        if (filter.tenantId) conditions.push(eq(apiKeys.tenantId, filter.tenantId));
        if (after) {
          const [createdAt, id] = after;
          conditions.push(or(lt(apiKeys.createdAt, createdAt), and(eq(apiKeys.createdAt, createdAt), lt(byteOrder(apiKeys.id), id))));
        }
        const rows = await db
          .select()
          .from(apiKeys)
          .where(and(...conditions))
          .orderBy(desc(apiKeys.createdAt), desc(byteOrder(apiKeys.id)))
          .limit(size + 1);
        return toPage(rows, size, spec, toApiKey, (k) => [k.createdAtMs, k.id]);
      }),

    revokeApiKey: (id) =>
      runQuery(async () => {
        const [row] = await db
          .update(apiKeys)
          .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, ${now()})` })
          .where(eq(apiKeys.id, id))
          .returning();
        if (!row) throw new NotFoundError("api_key", id);
        return toApiKey(row);
      }),

    markApiKeyUsed: (id, usedAtMs) =>
      runQuery(async () => {
        const { rowCount } = await db
          .update(apiKeys)
          .set({ lastUsedAt: sql`greatest(coalesce(${apiKeys.lastUsedAt}, 0), ${usedAtMs})` })
          .where(eq(apiKeys.id, id));
        if ((rowCount ?? 0) === 0) throw new NotFoundError("api_key", id);
      }),
  };
}
