/**
 * PostgreSQL side of key rotation: finds sealed values (credentials, consent-state secrets, provider
 * client secrets) whose key id is not the active one, and swaps a ciphertext only if the row still
 * holds the one that was read (compare-and-set), so rotation never overwrites a newer secret.
 */
import { and, eq, ne, or, sql } from "drizzle-orm";
import { toConsentStateSealedRef, toCredentialSealedRef, toProviderSealedRef } from "../rows/row-mappers.ts";
import { toWebhookSealedRefs } from "../rows/webhook-rows.ts";
import type { SealedRef, SealedStore } from "../store.ts";
import { byteOrder } from "./byte-order.ts";
import { runQuery } from "./run-query.ts";
import { consentStates, credentials, providers, webhookEndpoints } from "./schema.ts";
import type { PostgresStoreContext } from "./store-context.ts";

/** Creates the SealedStore part of the PostgreSQL store. */
export function createPostgresSealedStore({ db }: PostgresStoreContext): SealedStore {
  return {
    listStaleSealed: (activeKeyId, limit) =>
      runQuery(async () => {
        const refs: SealedRef[] = [];
        // `<>` is never true for NULL, so rows without a sealed value are skipped.
        const credentialRows = await db
          .select()
          .from(credentials)
          .where(ne(credentials.keyId, activeKeyId))
          .orderBy(byteOrder(credentials.connectionId))
          .limit(limit);
        refs.push(...credentialRows.map(toCredentialSealedRef));
        const consentStateRows = await db
          .select()
          .from(consentStates)
          .where(ne(consentStates.secretsKeyId, activeKeyId))
          .orderBy(byteOrder(consentStates.stateHash))
          .limit(Math.max(0, limit - refs.length));
        refs.push(...consentStateRows.map(toConsentStateSealedRef));
        const providerRows = await db
          .select()
          .from(providers)
          .where(ne(providers.clientSecretKeyId, activeKeyId))
          .orderBy(byteOrder(providers.name))
          .limit(Math.max(0, limit - refs.length));
        refs.push(...providerRows.map(toProviderSealedRef));
        const webhookRows = await db
          .select()
          .from(webhookEndpoints)
          .where(or(ne(webhookEndpoints.secretKeyId, activeKeyId), ne(webhookEndpoints.previousSecretKeyId, activeKeyId)))
          .orderBy(byteOrder(webhookEndpoints.id))
          .limit(Math.max(0, limit - refs.length));
        refs.push(...webhookRows.flatMap((row) => toWebhookSealedRefs(row, activeKeyId)));
        return refs.slice(0, limit);
      }),

    replaceSealed: (ref, next) =>
      runQuery(async () => {
        const old = ref.blob.ciphertext;
        const ciphertext = next.ciphertext;
        switch (ref.kind) {
          case "credential": {
            const { rowCount } = await db
              .update(credentials)
              .set({ ciphertext, keyId: next.keyId })
              .where(
                and(
                  eq(credentials.connectionId, ref.id),
                  eq(credentials.version, ref.version),
                  eq(credentials.keyId, ref.blob.keyId),
                  eq(credentials.ciphertext, old),
                ),
              );
            return rowCount === 1;
          }
          case "consent_state": {
            const { rowCount } = await db
              .update(consentStates)
              .set({ secretsCiphertext: ciphertext, secretsKeyId: next.keyId })
              .where(
                and(
                  eq(consentStates.stateHash, ref.id),
                  eq(consentStates.secretsKeyId, ref.blob.keyId),
                  eq(consentStates.secretsCiphertext, old),
                ),
              );
            return rowCount === 1;
          }
          case "provider_client_secret": {
            const { rowCount } = await db
              .update(providers)
              .set({ clientSecretCiphertext: ciphertext, clientSecretKeyId: next.keyId })
              .where(
                and(eq(providers.name, ref.id), eq(providers.clientSecretKeyId, ref.blob.keyId), eq(providers.clientSecretCiphertext, old)),
              );
            return rowCount === 1;
          }
          case "webhook_secret": {
            const { rowCount } = await db
              .update(webhookEndpoints)
              .set({ secretCiphertext: ciphertext, secretKeyId: next.keyId })
              .where(
                and(
                  eq(webhookEndpoints.id, ref.id),
                  eq(webhookEndpoints.secretKeyId, ref.blob.keyId),
                  eq(webhookEndpoints.secretCiphertext, old),
                ),
              );
            return rowCount === 1;
          }
          case "webhook_previous_secret": {
            const { rowCount } = await db
              .update(webhookEndpoints)
              .set({ previousSecretCiphertext: ciphertext, previousSecretKeyId: next.keyId })
              .where(
                and(
                  eq(webhookEndpoints.id, ref.id),
                  eq(webhookEndpoints.previousSecretKeyId, ref.blob.keyId),
                  eq(webhookEndpoints.previousSecretCiphertext, old),
                ),
              );
            return rowCount === 1;
          }
          default: {
            const unreachable: never = ref.kind;
            return unreachable;
          }
        }
      }),

    countSealedByKey: () =>
      runQuery(async () => {
        const counts: Record<string, number> = {};
        // count(*) is bigint, which node-postgres returns as a string; ::int is ample for a count.
        const { rows } = await db.execute<{ key_id: string; n: number }>(sql`
          SELECT key_id, COUNT(*)::int AS n FROM (
            SELECT key_id FROM credentials
            UNION ALL SELECT secrets_key_id FROM consent_states WHERE secrets_key_id IS NOT NULL
            UNION ALL SELECT client_secret_key_id FROM providers WHERE client_secret_key_id IS NOT NULL
            UNION ALL SELECT secret_key_id FROM webhook_endpoints
            UNION ALL SELECT previous_secret_key_id FROM webhook_endpoints WHERE previous_secret_key_id IS NOT NULL
          ) AS sealed GROUP BY key_id`);
        for (const row of rows) counts[row.key_id] = row.n;
        return counts;
      }),
  };
}
