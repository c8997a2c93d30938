/**
 * Tests of runQuery: constraint codes become the given domain errors, domain errors pass through,
 * and drizzle's parameter-carrying wrapper never escapes.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DrizzleQueryError } from "drizzle-orm/errors";
import { AlreadyExistsError, ConflictError, NotFoundError } from "../../domain/errors.ts";
import { runQuery } from "./run-query.ts";

/** An error shaped like better-sqlite3's SqliteError. */
function sqliteError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

describe("runQuery", () => {
  it("resolves with the operation's result", async () => {
    assert.equal(await runQuery(() => 42), 42);
  });

  it("maps UNIQUE and PRIMARY KEY violations to the unique error", async () => {
    for (const code of ["SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"]) {
      const failing = runQuery(
        () => {
          throw sqliteError(code, "UNIQUE constraint failed: t.c");
        },
        { unique: () => new AlreadyExistsError("tenant", "acme") },
      );
      await assert.rejects(failing, AlreadyExistsError);
    }
  });

  it("maps FOREIGN KEY violations to the foreignKey error, also inside drizzle's wrapper", async () => {
    const failing = runQuery(
      () => {
        throw new DrizzleQueryError("insert …", ["x"], sqliteError("SQLITE_CONSTRAINT_FOREIGNKEY", "FOREIGN KEY constraint failed"));
      },
      { foreignKey: () => new NotFoundError("tenant", "ghost") },
    );
    await assert.rejects(failing, NotFoundError);
  });

  it("passes domain errors thrown by the operation through unchanged", async () => {
    const conflict = new ConflictError("version", "lost");
    await assert.rejects(
      runQuery(() => {
        throw conflict;
      }),
      (error) => error === conflict,
    );
  });

  it("drops drizzle's wrapper, whose message carries the bound values", async () => {
    const marker = "BOUND-SECRET-VALUE";
    const cause = sqliteError("SQLITE_IOERR", "disk I/O error");
    const failing = runQuery(() => {
      throw new DrizzleQueryError("update credentials set ciphertext = ?", [marker], cause);
    });
    await assert.rejects(failing, (error: unknown) => {
      assert.ok(error instanceof Error && !(error instanceof DrizzleQueryError));
      assert.equal(error.message, "SQLite query failed (SQLITE_IOERR): disk I/O error");
      assert.ok(!error.message.includes(marker));
      assert.equal(error.cause, cause);
      return true;
    });
  });

  it("does not turn unlisted constraint violations into domain errors", async () => {
    const original = sqliteError("SQLITE_CONSTRAINT_UNIQUE", "UNIQUE constraint failed: t.c");
    await assert.rejects(
      runQuery(() => {
        throw original;
      }),
      (error) => error === original,
    );
  });
});
