/**
 * Runs one PostgreSQL operation as a Store method: constraint violations become domain errors and
 * no failure leaves carrying bound values. drizzle's DrizzleQueryError embeds the parameters
 * (ciphertext, hashes) in its message, and PostgreSQL's own errors carry them in `detail`
 * ("Key (secret_hash)=(…) already exists", "Failing row contains (…)"), so both are replaced.
 */

import { DrizzleQueryError } from "drizzle-orm/errors";
import { DatabaseError } from "pg";
import { InvalidArgumentError, StoreUnavailableError } from "../../domain/errors.ts";
import { isStoreDomainError } from "../rows/write-conflicts.ts";
import { outageReason } from "./outage.ts";

/** Domain errors to raise for the constraint violations a statement can expect. */
export interface ConstraintErrors {
  /** For a UNIQUE or PRIMARY KEY violation (SQLSTATE 23505). */
  unique?: () => Error;
  /** For a FOREIGN KEY violation, i.e. the parent row is missing (SQLSTATE 23503). */
  foreignKey?: () => Error;
}

/**
 * SQLSTATE classes whose primary message names only objects (tables, columns, constraints, types),
 * never a value: connection, transaction state, integrity, rollback, syntax/access, resources,
 * object state, operator intervention. Others — above all class 22, "invalid input syntax for
 * type bigint: \"…\"" — may quote a bound value, so their message is withheld.
 * @see https://www.postgresql.org/docs/15/errcodes-appendix.html
 */
const VALUE_FREE_CLASSES = new Set(["08", "25", "23", "40", "42", "53", "55", "57"]);

/** Runs `operation`, translating its failure as described in the module comment. */
export async function runQuery<T>(operation: () => Promise<T>, constraints: ConstraintErrors = {}): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw translate(error, constraints);
  }
}

function translate(error: unknown, constraints: ConstraintErrors): unknown {
  // Domain errors thrown by the operation itself (inside a transaction) pass through unchanged.
  if (isStoreDomainError(error)) return error;
  const cause = error instanceof DrizzleQueryError ? error.cause : error;
  // The database went away: the caller may retry (Unavailable), it is no fault of the request.
  const outage = outageReason(cause);
  if (outage !== undefined) return new StoreUnavailableError(outage, { cause });
  if (cause instanceof DatabaseError) {
    if (cause.code === "23505" && constraints.unique) return constraints.unique();
    if (cause.code === "23503" && constraints.foreignKey) return constraints.foreignKey();
    // text and jsonb cannot hold U+0000 (SQLite can): a value carrying one is the caller's invalid
    // input, not a server fault.
    if (cause.code === "22021" || cause.code === "22P05")
      return new InvalidArgumentError("", "text must not contain the NUL character (U+0000)");
    return scrub(cause);
  }
  if (error instanceof DrizzleQueryError) {
    // Not a server error (pool ended, connection lost, …): node-postgres's message holds no values.
    const message = cause instanceof Error ? cause.message : "unknown error";
    return new Error(`PostgreSQL query failed: ${message}`, { cause });
  }
  return error;
}

/** A value-free copy of a server error: its code and object names, never `detail`, `where` or `hint`. */
function scrub(error: DatabaseError): Error {
  const code = error.code ?? "no code";
  const message = VALUE_FREE_CLASSES.has(code.slice(0, 2)) ? error.message : "message withheld: it may quote a bound value";
  const on = error.constraint ?? error.table;
  const facts = Object.fromEntries(
    Object.entries({
      code: error.code,
      severity: error.severity,
      schema: error.schema,
      table: error.table,
      column: error.column,
      dataType: error.dataType,
      constraint: error.constraint,
      routine: error.routine,
    }).filter(([, value]) => value !== undefined),
  );
  const cause = Object.assign(new Error(message), { name: "DatabaseError" }, facts);
  return new Error(`PostgreSQL query failed (${code}${on ? ` on ${on}` : ""}): ${message}`, { cause });
}
