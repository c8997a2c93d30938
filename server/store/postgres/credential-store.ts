/**
 * Sealed connection secrets in PostgreSQL: the `credentials` and `consent_states` tables (rows mapped
 * in ../rows/row-mappers.ts). Only vault ciphertext and state hashes are stored. The credential
 * version lives on the connection row, so it keeps increasing when a credential is deleted and saved again.
 */
import { and, eq, gt, isNull, lt, sql } from "drizzle-orm";
import { NotFoundError } from "../../domain/errors.ts";
import { toConsentState, toCredential } from "../rows/row-mappers.ts";
import { credentialClaimUpdate, credentialValues, newConsentStateRow } from "../rows/row-values.ts";
import { credentialVersionConflict } from "../rows/write-conflicts.ts";
import type { CredentialStore } from "../store.ts";
import { runQuery } from "./run-query.ts";
import { connections, consentStates, credentials } from "./schema.ts";
import type { PostgresStoreContext } from "./store-context.ts";

/** Creates the credential and consent-state methods of the PostgreSQL store. */
export function createPostgresCredentialStore({ db, now }: PostgresStoreContext): CredentialStore {
  return {
    saveCredential: (connectionId, expectedVersion, input) =>
      runQuery(() =>
        db.transaction(async (tx) => {
          const version = expectedVersion + 1;
          const updatedAt = now();
          // The version bump locks the connection row until commit: a concurrent save of the same
          // version waits here, then re-checks the WHERE against the committed row and finds none.
          const [claimed] = await tx
            .update(connections)
            .set({ ...credentialClaimUpdate(version, input, updatedAt), ...leaseRelease(input.releaseLeaseOf) })
            .where(and(eq(connections.id, connectionId), eq(connections.credentialVersion, expectedVersion)))
            .returning({ id: connections.id });
          if (!claimed) {
            const [current] = await tx
              .select({ version: connections.credentialVersion })
              .from(connections)
              .where(eq(connections.id, connectionId));
            throw credentialVersionConflict(connectionId, current, expectedVersion);
          }
          const values = credentialValues(version, input, updatedAt);
          const [row] = await tx
            .insert(credentials)
            .values({ connectionId, ...values })
            .onConflictDoUpdate({ target: credentials.connectionId, set: values })
            .returning();
          return toCredential(row!);
        }),
      ),

    getCredential: (connectionId) =>
      runQuery(async () => {
        const [row] = await db.select().from(credentials).where(eq(credentials.connectionId, connectionId));
        return row ? toCredential(row) : null;
      }),

    deleteCredential: (connectionId) =>
      runQuery(() =>
        db.transaction(async (tx) => {
          await tx.delete(credentials).where(eq(credentials.connectionId, connectionId));
          await tx
            .update(connections)
            .set({ credentialExpiresAt: null, nextRefreshAt: null, updatedAt: now() })
            .where(eq(connections.id, connectionId));
        }),
      ),

    createConsentState: (input) =>
      runQuery(
        async () => {
          const [row] = await db.insert(consentStates).values(newConsentStateRow(input, now())).returning();
          return toConsentState(row!);
        },
        { foreignKey: () => new NotFoundError("connection", input.connectionId) },
      ),

    findConsentState: (stateHash) =>
      runQuery(async () => {
        const [row] = await db.select().from(consentStates).where(eq(consentStates.stateHash, stateHash));
        return row ? toConsentState(row) : null;
      }),

    consumeConsentState: (stateHash, nowMs) =>
      runQuery(async () => {
        // One UPDATE … RETURNING: the check and the mark are a single atomic step. A concurrent
        // callback with the same state waits for the row lock, re-checks used_at and matches nothing.
        const [row] = await db
          .update(consentStates)
          .set({ usedAt: nowMs })
          .where(and(eq(consentStates.stateHash, stateHash), isNull(consentStates.usedAt), gt(consentStates.expiresAt, nowMs)))
          .returning();
        return row ? toConsentState(row) : null;
      }),

    pruneConsentStates: (expiredBeforeMs) =>
      runQuery(async () => {
        const { rowCount } = await db.delete(consentStates).where(lt(consentStates.expiresAt, expiredBeforeMs));
        return rowCount ?? 0;
      }),
  };
}

/**
 * The SET terms that free the refresh lease when `owner` holds it (unchanged otherwise), so a
 * refresh saves and releases in one write. SET expressions read the row as it was before the update.
 */
function leaseRelease(owner: string | undefined) {
  if (owner === undefined) return {};
  const held = sql`${connections.leaseOwner} = ${owner}`;
  return {
    leaseOwner: sql`CASE WHEN ${held} THEN NULL ELSE ${connections.leaseOwner} END`,
    leaseExpiresAt: sql`CASE WHEN ${held} THEN NULL ELSE ${connections.leaseExpiresAt} END`,
    leaseState: sql`CASE WHEN ${held} THEN NULL ELSE ${connections.leaseState} END`,
  };
}
