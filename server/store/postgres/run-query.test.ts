/**
 * Tests of the PostgreSQL runQuery: SQLSTATE 23505/23503 become the given domain errors, domain
 * errors pass through, and neither drizzle's wrapper nor PostgreSQL's `detail` ever escapes.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { inspect } from "node:util";
import { DrizzleQueryError } from "drizzle-orm/errors";
import { DatabaseError } from "pg";
import { AlreadyExistsError, ConflictError, NotFoundError } from "../../domain/errors.ts";
import { runQuery } from "./run-query.ts";

const MARKER = "BOUND-SECRET-VALUE";

/** A server error as node-postgres builds it, `detail` quoting a bound value as PostgreSQL does. */
function serverError(code: string, message: string, fields: Partial<DatabaseError> = {}): DatabaseError {
  return Object.assign(new DatabaseError(message, message.length, "error"), { code, detail: `Key (x)=(${MARKER})` }, fields);
}

/** drizzle's wrapper, whose message lists the parameters. */
function wrapped(cause: unknown): DrizzleQueryError {
  return new DrizzleQueryError("insert into t values ($1)", [MARKER], cause as Error);
}

function fail(error: unknown): () => Promise<never> {
  return () => Promise.reject(error);
}

describe("postgres runQuery", () => {
  it("resolves with the operation's result", async () => {
    assert.equal(await runQuery(async () => 42), 42);
  });

  it("maps 23505 to the unique error and 23503 to the foreignKey error, wrapped or not", async () => {
    const constraints = {
      unique: () => new AlreadyExistsError("tenant", "acme"),
      foreignKey: () => new NotFoundError("tenant", "ghost"),
    };
    const unique = serverError("23505", 'duplicate key value violates unique constraint "tenants_pkey"');
    const foreignKey = serverError("23503", 'insert or update on table "connections" violates foreign key constraint "c"');
    await assert.rejects(runQuery(fail(wrapped(unique)), constraints), AlreadyExistsError);
    await assert.rejects(runQuery(fail(unique), constraints), AlreadyExistsError);
    await assert.rejects(runQuery(fail(wrapped(foreignKey)), constraints), NotFoundError);
  });

  it("passes domain errors thrown by the operation through unchanged", async () => {
    const conflict = new ConflictError("version", "lost");
    await assert.rejects(runQuery(fail(conflict)), (error) => error === conflict);
  });

  it("replaces a server error by one that keeps the code and names but not the detail", async () => {
    const cause = serverError("23514", 'new row for relation "connections" violates check constraint "connections_status_known"', {
      table: "connections",
      constraint: "connections_status_known",
    });
    await assert.rejects(runQuery(fail(wrapped(cause))), (error: unknown) => {
      assert.ok(error instanceof Error && !(error instanceof DrizzleQueryError));
      assert.equal(
        error.message,
        'PostgreSQL query failed (23514 on connections_status_known): new row for relation "connections" violates check constraint "connections_status_known"',
      );
      assert.ok(!inspect(error, { depth: Infinity, showHidden: true }).includes(MARKER));
      assert.ok(error.cause instanceof Error);
      assert.equal((error.cause as Error & { code?: string }).code, "23514");
      return true;
    });
  });

  it("withholds the message of errors that may quote a value (class 22)", async () => {
    const cause = serverError("22P02", `invalid input syntax for type bigint: "${MARKER}"`);
    await assert.rejects(runQuery(fail(wrapped(cause))), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /^PostgreSQL query failed \(22P02\): message withheld/);
      assert.ok(!inspect(error, { depth: Infinity, showHidden: true }).includes(MARKER));
      return true;
    });
  });

  it("does not turn unlisted constraint violations into domain errors", async () => {
    const unique = serverError("23505", 'duplicate key value violates unique constraint "u"', { constraint: "u" });
    await assert.rejects(runQuery(fail(unique)), (error: unknown) => {
      assert.ok(error instanceof Error && !(error instanceof AlreadyExistsError));
      assert.match(error.message, /23505 on u/);
      assert.ok(!inspect(error, { depth: Infinity, showHidden: true }).includes(MARKER));
      return true;
    });
  });

  it("drops drizzle's wrapper around client-side failures and keeps their cause", async () => {
    const cause = new Error("Cannot use a pool after calling end on the pool");
    await assert.rejects(runQuery(fail(wrapped(cause))), (error: unknown) => {
      assert.ok(error instanceof Error && !(error instanceof DrizzleQueryError));
      assert.equal(error.message, "PostgreSQL query failed: Cannot use a pool after calling end on the pool");
      assert.equal(error.cause, cause);
      assert.ok(!error.message.includes(MARKER));
      return true;
    });
  });
});
