import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { createTempDataDir, type TempDir } from "../../test/support/temp-data-dir.ts";
import { createSqliteStore } from "../store/sqlite/store.ts";
import type { Store } from "../store/store.ts";
import { createStaleConsentSweeper } from "./expire-stale-consents.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("server/maintenance/expire-stale-consents.test.ts", () => {
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

  test("pending connections past the consent window become expired; others are left alone", async () => {
    const abandoned = await store.createConnection({ tenantId: "t", userId: "u1", providerName: "p" });
    const active = await store.createConnection({ tenantId: "t", userId: "u2", providerName: "p", status: "active" });
    nowMs += 14 * 60_000;
    const recent = await store.createConnection({ tenantId: "t", userId: "u3", providerName: "p" });
    nowMs += 2 * 60_000; // abandoned: 16 min old; recent: 2 min old
    const sweeper = createStaleConsentSweeper({ store, now: () => nowMs, logger: pino({ level: "silent" }) });
    assert.equal(await sweeper.runOnce(), 1);
    const expired = await store.getConnection("t", abandoned.id);
    assert.equal(expired.status, "expired");
    assert.equal(expired.statusReason, "consent_timeout");
    assert.equal((await store.getConnection("t", recent.id)).status, "pending");
    assert.equal((await store.getConnection("t", active.id)).status, "active");
    assert.equal(await sweeper.runOnce(), 0, "nothing twice");
  });
});
