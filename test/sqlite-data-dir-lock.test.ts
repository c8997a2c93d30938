/**
 * Two servers on one SQLite data directory (SQLite only): the second `node server/main.ts` is
 * refused at start with a message naming the first one's PID, before it creates anything; after
 * the first dies by kill -9, the OS has released its lock and the next start takes the directory,
 * even when the left-over holder file names a PID that runs again (a container restarted with the
 * same hostname and PIDs).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { type ReplicaProcess, spawnReplica } from "./support/replica-process.ts";
import { createTempDataDir } from "./support/temp-data-dir.ts";
import { TEST_STORE } from "./support/test-store.ts";

/** Runs `node server/main.ts` on `dataDir` until it exits; its code and output. */
function runServer(dataDir: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["server/main.ts"], {
      env: { ...process.env, PORT: "0", NEXUS_HOST: "127.0.0.1", NEXUS_DATA_DIR: dataDir, NEXUS_LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (output += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (output += d));
    // A second server that did start would listen forever: stop it so the assertion reports it.
    const guard = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.once("exit", (code) => {
      clearTimeout(guard);
      resolve({ code, output });
    });
  });
}

describe("one server per SQLite data directory", {
  skip: TEST_STORE === "sqlite" ? false : "SQLite only (PostgreSQL replicas share a database by design)",
}, () => {
  test("a second process is refused naming the first one's PID; a dead holder's lock is taken over, whatever PID its file names", {
    timeout: 180_000,
  }, async () => {
    const dir = createTempDataDir("nexus-lock-");
    const running: ReplicaProcess[] = [];
    try {
      const first = await spawnReplica({ NEXUS_DATA_DIR: dir.path });
      running.push(first);
      const second = await runServer(dir.path);
      assert.equal(second.code, 1, second.output);
      assert.match(second.output, new RegExp(`in use by another Nexus process \\(PID ${first.pid}\\b`));
      assert.match(second.output, /One server per SQLite data directory/);
      assert.equal(first.hasExited(), false, "the first server runs on");
      assert.equal((await fetch(`${first.baseUrl}/readyz`)).status, 200);

      // kill -9 leaves the holder file behind, naming a PID that here runs again (this test
      // process, same host): the OS released the lock itself, so the next start takes over.
      await first.kill("SIGKILL");
      const holderFile = join(dir.path, "nexus.lock");
      assert.equal(JSON.parse(readFileSync(holderFile, "utf8")).pid, first.pid, "the dead holder's file is still there");
      writeFileSync(holderFile, JSON.stringify({ ...JSON.parse(readFileSync(holderFile, "utf8")), pid: process.pid }));
      const next = await spawnReplica({ NEXUS_DATA_DIR: dir.path });
      running.push(next);
      assert.equal((await fetch(`${next.baseUrl}/readyz`)).status, 200);
      await next.stop();
      assert.equal(existsSync(join(dir.path, "nexus.lock")), false, "a clean stop removes the lock");
    } finally {
      await Promise.all(running.map((r) => r.stop()));
      dir.remove();
    }
  });
});
