/**
 * Group commit for the SQLite writes many refresh flights make at the same moment (a scheduler tick
 * starts dozens at once): the writes queued during one event-loop turn run in one IMMEDIATE
 * transaction, each inside its own savepoint, and each caller's promise settles only after that
 * transaction has committed. With `synchronous=FULL` a commit is one fsync, and the fsync, not the
 * statement, is what a small write costs, so a tick pays a few commits instead of two per refresh.
 *
 * What a caller sees does not change: its write is atomic (its savepoint is rolled back on its own
 * failure, the others' writes still commit), durable before its promise resolves (a lease's
 * "calling" mark is on disk before the provider call it guards), and its failure is translated as
 * `runQuery` translates it. A failure of the transaction itself (lock not obtained, commit failed,
 * or SQLite rolled it back) fails every write of the group, none of which was then written.
 */
import type Database from "better-sqlite3";
import { type ConstraintErrors, translate } from "./run-query.ts";

/** Queues writes into shared transactions. */
export interface GroupCommit {
  /**
   * Runs `operation` (synchronous statements on this database) in the next group transaction and
   * settles with its result once that transaction committed.
   */
  run<T>(operation: () => T, constraints?: ConstraintErrors): Promise<T>;
  /** Runs the queued writes now (the store calls it before closing the database). */
  flush(): void;
}

interface Pending {
  operation: () => unknown;
  constraints: ConstraintErrors | undefined;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Creates the group commit of one database handle. `defer` schedules the flush of a new group
 * (default setImmediate: after every promise continuation of the turn, so flights that reach their
 * write in the same turn share it).
 */
export function createGroupCommit(client: Database.Database, defer: (flush: () => void) => void = setImmediate): GroupCommit {
  let queue: Pending[] = [];
  let statements: { begin: Database.Statement; commit: Database.Statement; rollback: Database.Statement } | undefined;
  const savepoint = { open: "SAVEPOINT nexus_group_write", release: "RELEASE nexus_group_write", undo: "ROLLBACK TO nexus_group_write" };
  let savepoints: { open: Database.Statement; release: Database.Statement; undo: Database.Statement } | undefined;

  const flush = () => {
    const group = queue;
    queue = [];
    if (group.length === 0) return;
    const results: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      statements ??= {
        begin: client.prepare("BEGIN IMMEDIATE"),
        commit: client.prepare("COMMIT"),
        rollback: client.prepare("ROLLBACK"),
      };
      savepoints ??= {
        open: client.prepare(savepoint.open),
        release: client.prepare(savepoint.release),
        undo: client.prepare(savepoint.undo),
      };
      statements.begin.run();
      try {
        for (const pending of group) {
          savepoints.open.run();
          try {
            const value = pending.operation();
            savepoints.release.run();
            results.push({ ok: true, value });
          } catch (error) {
            // SQLite ends the whole transaction on some errors (disk full, I/O): then none is written.
            if (!client.inTransaction) throw error;
            savepoints.undo.run();
            savepoints.release.run();
            results.push({ ok: false, error });
          }
        }
        statements.commit.run();
      } catch (error) {
        if (client.inTransaction) statements.rollback.run();
        throw error;
      }
    } catch (error) {
      for (const pending of group) pending.reject(translate(error, pending.constraints));
      return;
    }
    group.forEach((pending, i) => {
      const result = results[i];
      if (result?.ok === true) pending.resolve(result.value);
      else pending.reject(translate(result?.error, pending.constraints));
    });
  };

  return {
    run<T>(operation: () => T, constraints?: ConstraintErrors): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        if (queue.length === 0) defer(flush);
        queue.push({ operation, constraints, resolve: resolve as (value: unknown) => void, reject });
      });
    },
    flush,
  };
}
