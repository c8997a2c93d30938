/**
 * The publishing store: a connection write whose outcome is unknown (the store answered
 * StoreUnavailableError, e.g. the connection dropped after COMMIT was sent) still wakes the tenant's
 * WatchConnections streams, since its event may have committed; a write refused for a known reason
 * does not.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createTempDataDir, type TempDir } from "../../test/support/temp-data-dir.ts";
import { StoreUnavailableError } from "../domain/errors.ts";
import { createSqliteStore } from "../store/sqlite/store.ts";
import type { Store } from "../store/store.ts";
import { createPublishingStore } from "./publishing-store.ts";

describe("server/watch/publishing-store.test.ts", () => {
  let dir: TempDir;
  let base: Store;
  before(async () => {
    dir = createTempDataDir();
    base = await createSqliteStore({ dataDir: dir.path, now: Date.now });
    await base.ensureTenant({ id: "t" });
  });
  after(async () => {
    await base.close();
    dir.remove();
  });

  test("a write that committed but answered unavailable still wakes the tenant's streams", async () => {
    // The store commits, then the answer is lost (as when the connection drops after COMMIT).
    const lossy: Store = {
      ...base,
      async createConnection(input) {
        await base.createConnection(input);
        throw new StoreUnavailableError("connection terminated");
      },
      async updateConnectionStatus(tenantId, id, expected, next, reason, changes) {
        await base.updateConnectionStatus(tenantId, id, expected, next, reason, changes);
        throw new StoreUnavailableError("connection terminated");
      },
    };
    const woken: string[] = [];
    const store = createPublishingStore(
      lossy,
      () => {},
      (tenantId) => woken.push(tenantId),
    );
    await assert.rejects(store.createConnection({ tenantId: "t", userId: "u", providerName: "p" }), StoreUnavailableError);
    assert.deepEqual(woken, ["t"], "the created event may have committed: streams re-read the log");
    const [created] = await base.listConnectionEvents({ tenantId: "t", afterSeq: 0, limit: 10 });
    await assert.rejects(store.updateConnectionStatus("t", created!.connectionId, "pending", "active", null), StoreUnavailableError);
    assert.deepEqual(woken, ["t", "t"]);
  });

  test("a write refused for a known reason wakes nobody", async () => {
    const woken: string[] = [];
    const store = createPublishingStore(
      base,
      () => {},
      (tenantId) => woken.push(tenantId),
    );
    await assert.rejects(store.updateConnectionStatus("t", "conn_missing", "pending", "active", null));
    await assert.rejects(store.createConnection({ tenantId: "no-such-tenant", userId: "u", providerName: "p" }));
    assert.deepEqual(woken, []);
  });
});
