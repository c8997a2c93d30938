import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { createTempDataDir, type TempDir } from "../../test/support/temp-data-dir.ts";
import { eventually, within } from "../../test/support/wait.ts";
import { createSqliteStore } from "../store/sqlite/store.ts";
import type { ConnectionRecord, Store } from "../store/store.ts";
import type { UsageCredential } from "../tokens/usage-credential.ts";
import { type CredentialWatchEvent, createCredentialWatch } from "./credential-watch.ts";
import { createPublishingStore } from "./publishing-store.ts";
import { createWatchHub } from "./watch-hub.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("server/watch/credential-watch.test.ts", () => {
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

  const sealed = (text: string) => ({ ciphertext: new Uint8Array(Buffer.from(text)), keyId: "k" });

  test("watchers share reads per event, yet a read older than the announced version is never used", async () => {
    const hub = createWatchHub({ heartbeatMs: 0, now: Date.now });
    const store = createPublishingStore(base, (event) => hub.publish(event));
    const connection = await store.createConnection({ tenantId: "t", userId: "u", providerName: "p", status: "active" });
    await store.saveCredential(connection.id, 0, { secret: sealed("v1"), expiresAtSeconds: null });
    let reads = 0;
    // The read for v2 is held until v3 was announced, so an event overtakes a read in flight; every
    // other read is slow (simulated latency), so watchers asking for the same event share it.
    let releaseV2Read = () => {};
    const v2Read = new Promise<void>((resolve) => {
      releaseV2Read = resolve;
    });
    const readCredential = async (c: ConnectionRecord): Promise<UsageCredential> => {
      reads++;
      const version = c.credentialVersion;
      if (version === 2) await v2Read;
      else await delay(40);
      return {
        connectionId: c.id,
        strategy: { type: "oauth2" },
        credentials: { access_token: `t${version}` },
        expiresAtSeconds: null,
        version,
      };
    };
    const watch = createCredentialWatch({ store, hub, engine: { keepFresh: async () => {} }, readCredential });
    const abort = new AbortController();
    const seen: number[][] = [[], [], []];
    // Watcher 2 is a slow consumer: it comes back for its next event only after v3 was published,
    // while the read the others started for v2 is still in flight.
    let openGate = () => {};
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const streams = seen.map(async (versions, i) => {
      for await (const event of watch.watch(await store.getConnection("t", connection.id), 0, abort.signal)) {
        if ((event as CredentialWatchEvent).type === "credential") {
          versions.push((event as Extract<CredentialWatchEvent, { type: "credential" }>).credential.version);
          if (versions.at(-1) === 3) break;
          if (i === 2) await gate;
        }
      }
      return i;
    });
    await eventually(() => seen.every((versions) => versions.length > 0), 10_000, "every watcher has v1");
    const afterStart = reads;
    await store.saveCredential(connection.id, 1, { secret: sealed("v2"), expiresAtSeconds: null });
    await eventually(() => reads > afterStart, 10_000, "the shared read for v2 in flight");
    // v3 lands while the shared read for v2 is still in flight.
    await store.saveCredential(connection.id, 2, { secret: sealed("v3"), expiresAtSeconds: null });
    releaseV2Read();
    openGate();
    await within(Promise.all(streams), 10_000, "every watcher getting v3");
    abort.abort();
    for (const versions of seen) {
      assert.equal(versions.at(-1), 3, `every watcher ends on v3: ${JSON.stringify(seen)}`);
      assert.deepEqual(versions, [...new Set(versions)].sort(), "no duplicates, increasing");
    }
    assert.ok(reads - afterStart <= 4, `reads were shared across the 3 watchers (${reads - afterStart} for 2 events)`);
    hub.close();
  });
});
