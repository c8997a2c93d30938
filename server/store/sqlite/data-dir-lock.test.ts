import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { DataDirInUseError, LOCK_FILE, lockDataDir } from "./data-dir-lock.ts";

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "nexus-lock-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The PID of a process that has already exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "0"]);
  return child.pid!;
}

test("the first holder wins, a second live process is refused by PID, release frees the directory", (t) => {
  const dir = tempDir(t);
  const first = lockDataDir(dir, { pid: 1111, isAlive: () => true });
  assert.equal(JSON.parse(readFileSync(join(dir, LOCK_FILE), "utf8")).pid, 1111);
  assert.throws(
    () => lockDataDir(dir, { pid: 2222, isAlive: () => true }),
    (err: Error) => err instanceof DataDirInUseError && err.pid === 1111 && /PID 1111/.test(err.message) && err.message.includes(dir),
  );
  first.release();
  assert.equal(existsSync(join(dir, LOCK_FILE)), false);
  lockDataDir(dir, { pid: 2222, isAlive: () => true }).release();
});

test("a lock left by a dead process is taken over", (t) => {
  const dir = tempDir(t);
  const pid = deadPid();
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid, host: hostname(), since: "2026-01-01T00:00:00.000Z" }));
  const lock = lockDataDir(dir);
  assert.equal(JSON.parse(readFileSync(join(dir, LOCK_FILE), "utf8")).pid, process.pid);
  lock.release();
});

test("a lock held by this very process is shared (tests build two apps in one process)", (t) => {
  const dir = tempDir(t);
  const first = lockDataDir(dir);
  const second = lockDataDir(dir);
  second.release();
  assert.ok(existsSync(join(dir, LOCK_FILE)), "the second release leaves the first holder's lock");
  first.release();
  assert.equal(existsSync(join(dir, LOCK_FILE)), false);
});

test("an empty lock file is a claim in progress when fresh, and stale when old", (t) => {
  const dir = tempDir(t);
  const file = join(dir, LOCK_FILE);
  writeFileSync(file, "");
  assert.throws(() => lockDataDir(dir), /starting now/);
  const old = new Date(Date.now() - 60_000);
  utimesSync(file, old, old);
  lockDataDir(dir).release();
});

test("a lock from another machine (shared file system) is never taken over", (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: deadPid(), host: "elsewhere.example" }));
  assert.throws(() => lockDataDir(dir), DataDirInUseError);
});
