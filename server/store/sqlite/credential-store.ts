/**
 * Sealed connection secrets in SQLite: the `credentials` and `consent_states` tables (rows mapped
 * in ../rows/row-mappers.ts). Only vault ciphertext and state hashes are stored. The credential
 * version lives on the connection row, so it keeps increasing when a credential is deleted and saved again.
 */
import { and, eq, gt, isNull, lt, sql } from "drizzle-orm";
import { NotFoundError } from "../../domain/errors.ts";
import { type CredentialRow, toConsentState, toCredential } from "../rows/row-mappers.ts";
import { credentialValues, newConsentStateRow } from "../rows/row-values.ts";
import { credentialVersionConflict } from "../rows/write-conflicts.ts";
import type { CredentialStore } from "../store.ts";
import { runQuery } from "./run-query.ts";
import { connections, consentStates, credentials } from "./schema.ts";
import type { SqliteStoreContext } from "./store-context.ts";

/** Creates the credential and consent-state methods of the SQLite store. */
export function createSqliteCredentialStore({ db, client, now, writes }: SqliteStoreContext): CredentialStore {
  // Prepared once: read on every GetToken (see connection-store.ts).
  const byConnection = db
    .select()
    .from(credentials)
    .where(eq(credentials.connectionId, sql.placeholder("connectionId")))
    .prepare();
  // Prepared once (a save per refresh, per rotation): the version compare-and-set on the connection
  // (which also claims the expiry, the schedule when given, and frees the refresh lease when
  // `leaseOwner` holds it: SET terms read the row as it was), then the credential upsert.
  const claim = client.prepare<SaveParams>(
    `UPDATE connections SET credential_version = @version, credential_expires_at = @expiresAt, updated_at = @updatedAt,
       next_refresh_at = CASE WHEN @setsNextRefresh = 1 THEN @nextRefreshAt ELSE next_refresh_at END,
       lease_owner = CASE WHEN lease_owner = @leaseOwner THEN NULL ELSE lease_owner END,
       lease_expires_at = CASE WHEN lease_owner = @leaseOwner THEN NULL ELSE lease_expires_at END,
       lease_state = CASE WHEN lease_owner = @leaseOwner THEN NULL ELSE lease_state END
     WHERE id = @id AND credential_version = @expected`,
  );
  const currentVersion = client.prepare<[string], { version: number }>(
    "SELECT credential_version AS version FROM connections WHERE id = ?",
  );
  const upsert = client.prepare<SaveParams, RawCredentialRow>(
    `INSERT INTO credentials (connection_id, ciphertext, key_id, version, expires_at, updated_at)
     VALUES (@id, @ciphertext, @keyId, @version, @expiresAt, @updatedAt)
     ON CONFLICT (connection_id) DO UPDATE SET ciphertext = excluded.ciphertext, key_id = excluded.key_id,
       version = excluded.version, expires_at = excluded.expires_at, updated_at = excluded.updated_at
     RETURNING connection_id, ciphertext, key_id, version, expires_at, updated_at`,
  );
  // Runs inside the group commit's IMMEDIATE transaction (its own savepoint): the write lock is taken
  // up front, so two processes cannot both pass the version check.
  const save = (params: SaveParams): CredentialRow => {
    if (claim.run(params).changes === 0) {
      throw credentialVersionConflict(params.id, currentVersion.get(params.id), params.expected);
    }
    const row = upsert.get(params);
    if (row === undefined) throw new Error("credential upsert returned no row");
    return {
      connectionId: row.connection_id,
      ciphertext: row.ciphertext,
      keyId: row.key_id,
      version: row.version,
      expiresAt: row.expires_at,
      updatedAt: row.updated_at,
    };
  };
  return {
    // Saves of the flights of one moment share a commit (group-commit.ts): each is its own atomic
    // compare-and-set (a savepoint) and durable before its promise resolves.
    saveCredential: (connectionId, expectedVersion, input) =>
      writes.run(() => {
        const row = save({
          // ciphertext, keyId, version, expiresAt, updatedAt: the columns PostgreSQL's save writes too
          ...credentialValues(expectedVersion + 1, input, now()),
          id: connectionId,
          expected: expectedVersion,
          setsNextRefresh: input.nextRefreshAtMs === undefined ? 0 : 1,
          nextRefreshAt: input.nextRefreshAtMs ?? null,
          leaseOwner: input.releaseLeaseOf ?? null,
        });
        return toCredential(row);
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

/** The bound values of the prepared save. */
interface SaveParams {
  id: string;
  expected: number;
  version: number;
  expiresAt: number | null;
  updatedAt: number;
  /** 1 when the input names a next refresh time (even null), else 0: next_refresh_at is kept. */
  setsNextRefresh: 0 | 1;
  nextRefreshAt: number | null;
  /** The lease token to free when it still holds the lease; null frees nothing. */
  leaseOwner: string | null;
  ciphertext: Buffer;
  keyId: string;
}

/** A `credentials` row as the prepared upsert returns it. */
interface RawCredentialRow {
  connection_id: string;
  ciphertext: Buffer;
  key_id: string;
  version: number;
  expires_at: number | null;
  updated_at: number;
}
