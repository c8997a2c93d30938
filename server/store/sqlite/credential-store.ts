/**
 * Sealed connection secrets in SQLite: the `credentials` and `consent_states` tables (rows mapped
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
import type { SqliteStoreContext } from "./store-context.ts";

/** Creates the credential and consent-state methods of the SQLite store. */
export function createSqliteCredentialStore({ db, now }: SqliteStoreContext): CredentialStore {
  // Prepared once: read on every GetToken (see connection-store.ts).
  const byConnection = db
    .select()
    .from(credentials)
    .where(eq(credentials.connectionId, sql.placeholder("connectionId")))
    .prepare();
  return {
    saveCredential: (connectionId, expectedVersion, input) =>
      runQuery(() =>
        // IMMEDIATE takes the write lock up front, so two processes cannot both pass the version check.
        db.transaction(
          (tx) => {
            const version = expectedVersion + 1;
            const updatedAt = now();
            const claimed = tx
              .update(connections)
              .set({ ...credentialClaimUpdate(version, input, updatedAt), ...leaseRelease(input.releaseLeaseOf) })
              .where(and(eq(connections.id, connectionId), eq(connections.credentialVersion, expectedVersion)))
              .returning({ id: connections.id })
              .get();
            if (!claimed) {
              const current = tx
                .select({ version: connections.credentialVersion })
                .from(connections)
                .where(eq(connections.id, connectionId))
                .get();
              throw credentialVersionConflict(connectionId, current, expectedVersion);
            }
            const values = credentialValues(version, input, updatedAt);
            const row = tx
              .insert(credentials)
              .values({ connectionId, ...values })
              .onConflictDoUpdate({ target: credentials.connectionId, set: values })
              .returning()
              .get();
            return toCredential(row);
          },
          { behavior: "immediate" },
        ),
      ),

    getCredential: (connectionId) =>
      runQuery(() => {
        const row = byConnection.get({ connectionId });
        return row ? toCredential(row) : null;
      }),

    deleteCredential: (connectionId) =>
      runQuery(() =>
        db.transaction(
          (tx) => {
            tx.delete(credentials).where(eq(credentials.connectionId, connectionId)).run();
            tx.update(connections)
              .set({ credentialExpiresAt: null, nextRefreshAt: null, updatedAt: now() })
              .where(eq(connections.id, connectionId))
              .run();
          },
          { behavior: "immediate" },
        ),
      ),

    createConsentState: (input) =>
      runQuery(
        () => {
          const row = db.insert(consentStates).values(newConsentStateRow(input, now())).returning().get();
          return toConsentState(row);
        },
        { foreignKey: () => new NotFoundError("connection", input.connectionId) },
      ),

    findConsentState: (stateHash) =>
      runQuery(() => {
        const row = db.select().from(consentStates).where(eq(consentStates.stateHash, stateHash)).get();
        return row ? toConsentState(row) : null;
      }),

    consumeConsentState: (stateHash, nowMs) =>
      runQuery(() => {
        // One UPDATE … RETURNING: the check and the mark are a single atomic step, so a replayed
        // or concurrent callback with the same state finds used_at already set.
        const row = db
          .update(consentStates)
          .set({ usedAt: nowMs })
          .where(and(eq(consentStates.stateHash, stateHash), isNull(consentStates.usedAt), gt(consentStates.expiresAt, nowMs)))
          .returning()
          .get();
        return row ? toConsentState(row) : null;
      }),

    pruneConsentStates: (expiredBeforeMs) =>
      runQuery(() => db.delete(consentStates).where(lt(consentStates.expiresAt, expiredBeforeMs)).run().changes),
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
