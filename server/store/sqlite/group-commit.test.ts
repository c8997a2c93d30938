/**
 * The SQLite group commit: writes queued in one turn share one transaction, each caller settles
 * only once that transaction committed (another connection sees the write by then), one write's
 * failure undoes only its own statements, and a transaction that cannot start fails every write.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import Database from "better-sqlite3";
import { StoreUnavailableError } from "../../domain/errors.ts";
import { createGroupCommit } from "./group-commit.ts";

describe("SQLite group commit", () => {
  let dataDir: string;
  let client: Database.Database;
  let other: Database.Database;
  /** Flushes queued by the group commit under test, run when the test says. */
  let deferred: (() => void)[];
  const runDeferred = () => {
    for (const flush of deferred.splice(0)) flush();
  };

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "nexus-group-commit-"));
    client = new Database(join(dataDir, "db"));
    client.pragma("journal_mode = WAL");
    client.exec("create table t (k text primary key, v integer not null)");
    other = new Database(join(dataDir, "db"));
    other.pragma("busy_timeout = 0");
    client.pragma("busy_timeout = 0");
    deferred = [];
  });
  afterEach(async () => {
    client.close();
    other.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const insert = (k: string, v: number) => () => client.prepare("insert into t (k, v) values (?, ?)").run(k, v).changes;
  const count = () => (other.prepare("select count(*) as n from t").get() as { n: number }).n;

  it("runs the writes of one turn in one transaction and settles each after the commit", async () => {
    const group = createGroupCommit(client, (flush) => deferred.push(flush));
    const seen: boolean[] = [];
    let settled = 0;
    const writes = ["a", "b", "c"].map((k, i) =>
      group
        .run(() => {
          seen.push(client.inTransaction);
          return insert(k, i)();
        })
        .then((changes) => {
          settled += 1;
          // Committed: another connection reads it.
          assert.equal(count(), 3);
          return changes;
        }),
    );
    assert.equal(deferred.length, 1, "one flush for the whole group");
    await Promise.resolve();
    assert.equal(settled, 0, "nothing settles before the group ran");
    assert.equal(count(), 0);
    runDeferred();
    assert.deepEqual(await Promise.all(writes), [1, 1, 1]);
    assert.deepEqual(seen, [true, true, true]);
  });

  it("undoes only the failing write; the others commit", async () => {
    const group = createGroupCommit(client, (flush) => deferred.push(flush));
    const first = group.run(insert("a", 1));
    const failing = group.run(() => {
      insert("b", 2)();
      throw new Error("refused after writing");
    });
    const duplicate = group.run(insert("a", 3), { unique: () => new Error("taken") });
    const last = group.run(insert("c", 4));
    runDeferred();
    assert.equal(await first, 1);
    await assert.rejects(failing, /refused after writing/);
    await assert.rejects(duplicate, /taken/);
    assert.equal(await last, 1);
    assert.deepEqual(other.prepare("select k, v from t order by k").all(), [
      { k: "a", v: 1 },
      { k: "c", v: 4 },
    ]);
  });

  it("fails every write of the group when the transaction cannot start", async () => {
    const group = createGroupCommit(client, (flush) => deferred.push(flush));
    const writes = [group.run(insert("a", 1)), group.run(insert("b", 2))];
    other.prepare("BEGIN IMMEDIATE").run();
    try {
      runDeferred();
    } finally {
      other.prepare("ROLLBACK").run();
    }
    for (const write of writes) await assert.rejects(write, StoreUnavailableError);
    assert.equal(count(), 0);
    // The next group goes through.
    const later = group.run(insert("c", 3));
    runDeferred();
    assert.equal(await later, 1);
  });

  it("flush runs what is queued at once (the store flushes before it closes)", async () => {
    const group = createGroupCommit(client, () => undefined);
    const write = group.run(insert("a", 1));
    group.flush();
    assert.equal(await write, 1);
    assert.equal(count(), 1);
  });
});
