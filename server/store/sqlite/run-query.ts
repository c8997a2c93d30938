/**
 * Runs one synchronous SQLite operation as a Store method: the result becomes a promise, constraint
 * violations become domain errors, and no failure leaves carrying bound values. (better-sqlite3's
 * own errors name tables and columns only; drizzle's DrizzleQueryError, which its cached and async
 * paths throw, embeds the bound parameters — ciphertext, hashes — in its message, so it is dropped.)
 */
import { DrizzleQueryError } from "drizzle-orm/errors";
import { StoreUnavailableError } from "../../domain/errors.ts";
import { isStoreDomainError } from "../rows/write-conflicts.ts";

/** Domain errors to raise for the constraint violations a statement can expect. */
export interface ConstraintErrors {
  /** For a UNIQUE or PRIMARY KEY violation. */
  unique?: () => Error;
  /** For a FOREIGN KEY violation (the parent row is missing). */
  foreignKey?: () => Error;
}

/** Runs `operation`, translating its failure as described in the module comment. */
export function runQuery<T>(operation: () => T, constraints: ConstraintErrors = {}): Promise<T> {
  try {
    return Promise.resolve(operation());
  } catch (error) {
    return Promise.reject(translate(error, constraints));
  }
}

/** A failed operation's error as a Store method rejects with it (see the module comment). */
export function translate(error: unknown, constraints: ConstraintErrors = {}): unknown {
  // Domain errors thrown by the operation itself (inside a transaction) pass through unchanged.
  if (isStoreDomainError(error)) return error;
  const cause = error instanceof DrizzleQueryError ? error.cause : error;
  const code = sqliteCode(cause);
  if ((code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY") && constraints.unique) {
    return constraints.unique();
  }
  if (code === "SQLITE_CONSTRAINT_FOREIGNKEY" && constraints.foreignKey) {
    return constraints.foreignKey();
  }
  // Another connection held the write lock longer than busy_timeout: retry later, not a fault.
  if (code === "SQLITE_BUSY" || code?.startsWith("SQLITE_BUSY_") || code === "SQLITE_LOCKED" || code?.startsWith("SQLITE_LOCKED_")) {
    return new StoreUnavailableError("database is locked", { cause });
  }
  if (error instanceof DrizzleQueryError) {
    // SQLite's own message names tables and columns, never values, so it is safe to keep.
    const message = cause instanceof Error ? cause.message : "unknown error";
    return new Error(`SQLite query failed (${code ?? "no code"}): ${message}`, { cause });
  }
  return error;
}

function sqliteCode(error: unknown): string | undefined {
  if (error instanceof Error && "code" in error && typeof error.code === "string") return error.code;
  return undefined;
}
