/**
 * The data-directory lock against real processes: the lock is the OS's (SQLite's exclusive file
 * lock), so a holder killed by SIGKILL frees it at once, a holder file naming a dead or a reused
 * live PID decides nothing, and of several processes racing for one directory exactly one wins.
 */
import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { DataDirInUseError, LOCK_FILE, lockDataDir } from "./data-dir-lock.ts";

const MODULE_URL = new URL("./data-dir-lock.ts", import.meta.url).href;

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "nexus-lock-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A process that tries the lock on `dir`, prints "locked" or "refused <pid>", and holds until its stdin ends. */
interface Contender {
  readonly child: ChildProcessWithoutNullStreams;
  /** The first line it printed. */
  readonly outcome: Promise<string>;
  /** Ends it gracefully (stdin closed: it releases and exits) and waits for the exit. */
  finish(): Promise<void>;
}

function contend(dir: string): Contender {
  const script = `
    import { lockDataDir } from ${JSON.stringify(MODULE_URL)};
    try {
      const lock = lockDataDir(process.argv[1]);
      console.log("locked");
      process.stdin.resume();
      process.stdin.on("end", () => { lock.release(); process.exit(0); });
    } catch (error) {
      console.log(error.name === "DataDirInUseError" ? "refused " + error.pid : "failed " + error.message);
    }`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script, dir], { stdio: ["pipe", "pipe", "pipe"] });
  // A refused contender exits at once; closing its stdin later must not raise EPIPE here.
  child.stdin.on("error", () => undefined);
  let out = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (out += d));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const outcome = new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      if (out.includes("\n")) resolve(out.split("\n")[0]!);
    });
    child.once("exit", (code) => reject(new Error(`contender exited (${code}) before answering: ${out}`)));
  });
  outcome.catch(() => undefined);
  return {
    child,
    outcome,
    async finish() {
      child.stdin.end();
      await exited;
    },
  };
}

test("a lock held by another process refuses us naming its PID; when it exits the directory is free", async (t) => {
  const dir = tempDir(t);
  const other = contend(dir);
  try {
    assert.equal(await other.outcome, "locked");
    assert.throws(
      () => lockDataDir(dir),
      (err: Error) =>
        err instanceof DataDirInUseError && err.pid === other.child.pid && /PID \d+/.test(err.message) && err.message.includes(dir),
    );
  } finally {
    await other.finish();
  }
  assert.equal(existsSync(join(dir, LOCK_FILE)), false, "a clean release removes the holder file");
  const lock = lockDataDir(dir);
  assert.equal(JSON.parse(readFileSync(join(dir, LOCK_FILE), "utf8")).pid, process.pid);
  lock.release();
});

test("a holder killed by SIGKILL frees the lock at once, though its holder file still names it", async (t) => {
  const dir = tempDir(t);
  const other = contend(dir);
  assert.equal(await other.outcome, "locked");
  const exited = new Promise((resolve) => other.child.once("exit", resolve));
  other.child.kill("SIGKILL");
  await exited;
  assert.equal(JSON.parse(readFileSync(join(dir, LOCK_FILE), "utf8")).pid, other.child.pid, "the dead holder's file is left behind");
  const lock = lockDataDir(dir);
  assert.equal(JSON.parse(readFileSync(join(dir, LOCK_FILE), "utf8")).pid, process.pid);
  lock.release();
});

test("a holder file naming a live PID (reused after a container restart) does not block a start", (t) => {
  const dir = tempDir(t);
  // PID 1 and this very process both run, and neither holds the lock.
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: 1, host: hostname(), since: "2026-01-01T00:00:00.000Z" }));
  lockDataDir(dir, { pid: 4242 }).release();
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: process.pid, host: hostname() }));
  lockDataDir(dir).release();
});

test("over a stale holder file, a live holder is never displaced, and of racing processes exactly one wins", async (t) => {
  const dir = tempDir(t);
  for (let round = 0; round < 3; round += 1) {
    // The reviewed race: a dead holder's file, then several processes taking over at once.
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: 999_999, host: hostname() }));
    const contenders = Array.from({ length: 4 }, () => contend(dir));
    try {
      const outcomes = await Promise.all(contenders.map((c) => c.outcome));
      const winners = contenders.filter((_, i) => outcomes[i] === "locked");
      assert.equal(winners.length, 1, `round ${round}: exactly one holder (${outcomes.join(", ")})`);
      const winnerPid = winners[0]!.child.pid!;
      for (const outcome of outcomes.filter((o) => o !== "locked")) assert.match(outcome, /^refused (-1|\d+)$/);
      // A late comer (this process) is refused too, and the winner's holder file is intact.
      assert.throws(
        () => lockDataDir(dir),
        (err: Error) => err instanceof DataDirInUseError && err.pid === winnerPid,
      );
      assert.equal(JSON.parse(readFileSync(join(dir, LOCK_FILE), "utf8")).pid, winnerPid);
    } finally {
      await Promise.all(contenders.map((c) => c.finish()));
    }
  }
});

test("a lock held by this very process is shared (tests build two apps in one process)", (t) => {
  const dir = tempDir(t);
  const first = lockDataDir(dir);
  const second = lockDataDir(dir);
  second.release();
  assert.ok(existsSync(join(dir, LOCK_FILE)), "the second release leaves the first holder's lock");
  first.release();
  first.release();
  assert.equal(existsSync(join(dir, LOCK_FILE)), false);
});
