import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { createTempDataDir, type TempDir } from "../../test/support/temp-data-dir.ts";
import { createSqliteStore } from "../store/sqlite/store.ts";
import type { Store } from "../store/store.ts";
import { createConnectionEventPruner } from "./prune-connection-events.ts";

const DAY_MS = 86_400_000;

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("server/maintenance/prune-connection-events.test.ts", () => {
  let dir: TempDir;
  let store: Store;
  let nowMs = 1_700_000_000_000;
  before(async () => {
    dir = createTempDataDir();
    store = await createSqliteStore({ dataDir: dir.path, now: () => nowMs });
    await store.ensureTenant({ id: "t" });
  });
  after(async () => {
    await store.close();
    dir.remove();
  });

  test("events older than the retention go, newer ones and those after keepAfterSeq stay", async () => {
    const old = await store.createConnection({ tenantId: "t", userId: "u1", providerName: "p" }); // day 0
    nowMs += 2 * DAY_MS;
    await store.updateConnectionStatus("t", old.id, "pending", "active", null); // day 2
    nowMs += 6 * DAY_MS; // day 8: the created event is 8 days old, the active one 6
    const [created, active] = await store.listConnectionEvents({ tenantId: "t", afterSeq: 0, limit: 10 });
    assert.ok(created && active);
    let keep: number | undefined = 0;
    const pruner = createConnectionEventPruner({
      store,
      now: () => nowMs,
      logger: pino({ level: "silent" }),
      retentionDays: 7,
      keepAfterSeq: async () => keep,
    });
    assert.equal(await pruner.runOnce(), 0, "keepAfterSeq 0 keeps everything");
    keep = undefined;
    assert.equal(await pruner.runOnce(), 1);
    assert.deepEqual(
      (await store.listConnectionEvents({ tenantId: "t", afterSeq: 0, limit: 10 })).map((e) => e.seq),
      [active.seq],
    );
    assert.equal(await store.connectionEventsPrunedThrough("t"), created.seq);
    assert.equal(await pruner.runOnce(), 0, "nothing twice");
    nowMs += 2 * DAY_MS;
    assert.equal(await pruner.runOnce(), 1, "the active event ages out too");
  });
});
