/**
 * Sealed connection secrets in SQLite: the `credentials` and `consent_states` tables (rows mapped
 * in ../rows/row-mappers.ts). Only vault ciphertext and state hashes are stored. The credential
 * version lives on the connection row, so it keeps increasing when a credential is deleted and saved again.
 */
import { and, eq, gt, isNull, lt, type Placeholder, type SQL, sql } from "drizzle-orm";
import { NotFoundError } from "../../domain/errors.ts";
import { type CredentialRow, toConsentState, toCredential } from "../rows/row-mappers.ts";
import { credentialValues, newConsentStateRow } from "../rows/row-values.ts";
import { credentialVersionConflict } from "../rows/write-conflicts.ts";
import type { CredentialStore } from "../store.ts";
import { runQuery } from "./run-query.ts";
import { connections, consentStates, credentials } from "./schema.ts";
import type { SqliteStoreContext } from "./store-context.ts";

/** Creates the credential and consent-state methods of the SQLite store. */
export function createSqliteCredentialStore({ db, now, writes }: SqliteStoreContext): CredentialStore {
  // Prepared once: read on every GetToken (see connection-store.ts).
  const byConnection = db
    .select()
    .from(credentials)
    .where(eq(credentials.connectionId, sql.placeholder("connectionId")))
    .prepare();
  // saveCredential's statements, prepared once (a refresh saves through them).
  const claimSet = {
    credentialVersion: param("version"),
    credentialExpiresAt: param("expiresAt"),
    updatedAt: param("updatedAt"),
    ...leaseRelease(sql.placeholder("releaseOf")),
  };
  const claimWhere = and(
    eq(connections.id, sql.placeholder("connectionId")),
    eq(connections.credentialVersion, sql.placeholder("expectedVersion")),
  );
  const claimVersion = db.update(connections).set(claimSet).where(claimWhere).returning({ id: connections.id }).prepare();
  const claimVersionAndSchedule = db
    .update(connections)
    .set({ ...claimSet, nextRefreshAt: param("nextRefreshAt") })
    .where(claimWhere)
    .returning({ id: connections.id })
    .prepare();
  const versionOf = db
    .select({ version: connections.credentialVersion })
    .from(connections)
    .where(eq(connections.id, sql.placeholder("connectionId")))
    .prepare();
  const credentialSet = {
    ciphertext: param("ciphertext"),
    keyId: param("keyId"),
    version: param("version"),
    expiresAt: param("expiresAt"),
    updatedAt: param("updatedAt"),
  };
  const upsert = db
    .insert(credentials)
    .values({ connectionId: sql.placeholder("connectionId"), ...credentialSet })
    .onConflictDoUpdate({ target: credentials.connectionId, set: credentialSet })
    .returning()
    .prepare();
  return {
    // Saves of the flights of one moment share a commit (group-commit.ts): each is its own atomic
    // compare-and-set (a savepoint) and durable before its promise resolves.
    saveCredential: (connectionId, expectedVersion, input) =>
      writes.run(() => {
        const version = expectedVersion + 1;
        const updatedAt = now();
        const claim = input.nextRefreshAtMs === undefined ? claimVersion : claimVersionAndSchedule;
        const claimed = claim.get({
          connectionId,
          expectedVersion,
          version,
          expiresAt: input.expiresAtSeconds,
          updatedAt,
          nextRefreshAt: input.nextRefreshAtMs ?? null,
          releaseOf: input.releaseLeaseOf ?? null,
        });
        if (!claimed) throw credentialVersionConflict(connectionId, versionOf.get({ connectionId }), expectedVersion);
        const values = credentialValues(version, input, updatedAt);
        return toCredential(upsert.get({ connectionId, ...values }) as CredentialRow);
      }),

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
 * The SET terms that free the refresh lease when `owner` holds it (unchanged otherwise, and always
 * when `owner` is bound to null), so a refresh saves and releases in one write. SET expressions
 * read the row as it was before the update.
 */
function leaseRelease(owner: Placeholder) {
  const held = sql`${connections.leaseOwner} = ${owner}`;
  return {
    leaseOwner: sql`CASE WHEN ${held} THEN NULL ELSE ${connections.leaseOwner} END`,
    leaseExpiresAt: sql`CASE WHEN ${held} THEN NULL ELSE ${connections.leaseExpiresAt} END`,
    leaseState: sql`CASE WHEN ${held} THEN NULL ELSE ${connections.leaseState} END`,
  };
}

/** A named placeholder usable as a SET or VALUES term (drizzle's SET takes SQL, not a bare placeholder). */
function param(name: string): SQL {
  return sql`${sql.placeholder(name)}`;
}
