/**
 * The refresh recovery cases (refresh-recovery-cases.ts) on a real SQLite store.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe } from "node:test";
import { recoveryCases } from "../../test/support/refresh-recovery-cases.ts";
import { createSqliteStore } from "../store/sqlite/store.ts";

describe("refresh recovery on SQLite", () => {
  recoveryCases(async (clock) => {
    const dataDir = await mkdtemp(join(tmpdir(), "nexus-recovery-"));
    const store = await createSqliteStore({ dataDir, now: clock.now });
    return {
      store,
      async dispose() {
        await store.close();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  });
});
