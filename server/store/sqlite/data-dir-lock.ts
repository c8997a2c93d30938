/**
 * One Nexus server per SQLite data directory. Two servers on one directory would each create the
 * development keyring and the bootstrap admin key if missing, and each run its own refresh schedule
 * and watch hub that the other never hears of, so the second is refused. The lock is one the OS
 * releases when its process dies (kill -9, crash, container restart): SQLite's exclusive file lock
 * on `nexus.lock.db`, held for the process lifetime (`locking_mode=EXCLUSIVE`). No PID is trusted
 * to decide anything, so a stale lock cannot be taken over twice and a reused PID cannot block a
 * start. `nexus.lock` beside it only names the holder (PID, host, since) for the refusal message.
 */
import { mkdirSync, readFileSync, realpathSync, unlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { hostname } from "node:os";
import { join } from "node:path";
import type BetterSqlite3 from "better-sqlite3";

/** The file naming the holder (JSON: pid, host, since); informational only. */
export const LOCK_FILE = "nexus.lock";

/** The SQLite database whose exclusive lock is the data directory's lock. Never deleted (see release). */
export const LOCK_DB_FILE = "nexus.lock.db";

/** A held lock. */
export interface DataDirLock {
  /** The holder file's path. */
  readonly file: string;
  /** Gives the lock up (the last holder in this process closes it); safe to call twice. */
  release(): void;
}

/** The data directory is held by another live process. */
export class DataDirInUseError extends Error {
  override readonly name = "DataDirInUseError";
  readonly pid: number;
  readonly file: string;
  constructor(dataDir: string, pid: number, file: string, sinceIso: string | undefined) {
    super(
      `data directory ${dataDir} is in use by another Nexus process (${pid > 0 ? `PID ${pid}` : "starting now"}${sinceIso ? `, since ${sinceIso}` : ""}). ` +
        `One server per SQLite data directory: stop that process, or give this one another NEXUS_DATA_DIR ` +
        `(several replicas need PostgreSQL: DATABASE_URL).`,
    );
    this.pid = pid;
    this.file = file;
  }
}

interface LockContent {
  pid: number;
  host?: string;
  since?: string;
}

/** Locks this process holds, by lock database path: a second app in one process (tests) shares it. */
const held = new Map<string, { db: BetterSqlite3.Database; file: string; holders: number }>();

/**
 * Takes the lock on `dataDir` (created if missing, mode 0700) for this process; `pid` is what the
 * holder file names (default this process).
 * @throws DataDirInUseError when another running process holds it.
 */
export function lockDataDir(dataDir: string, options: { pid?: number } = {}): DataDirLock {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, LOCK_FILE);
  const dbFile = join(realpathSync(dataDir), LOCK_DB_FILE);
  const shared = held.get(dbFile);
  if (shared) {
    shared.holders += 1;
    return releasable(dbFile);
  }
  // Loaded here, not at import: a PostgreSQL deployment never needs the SQLite driver.
  const Database = createRequire(import.meta.url)("better-sqlite3") as typeof BetterSqlite3;
  const db = new Database(dbFile, { timeout: 0 });
  try {
    // Exclusive locking mode keeps the lock of the first write until the connection closes; the
    // OS drops it with the process. Busy timeout 0: a held lock refuses at once.
    db.pragma("locking_mode = EXCLUSIVE");
    db.exec("BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL); DELETE FROM holder; COMMIT;");
    db.prepare("INSERT INTO holder (pid) VALUES (?)").run(options.pid ?? process.pid);
  } catch (error) {
    db.close();
    if ((error as { code?: unknown }).code === "SQLITE_BUSY") {
      const holder = readLock(file);
      throw new DataDirInUseError(dataDir, holder?.pid ?? -1, file, holder?.since);
    }
    throw error;
  }
  const content: LockContent = { pid: options.pid ?? process.pid, host: hostname(), since: new Date().toISOString() };
  try {
    writeFileSync(file, `${JSON.stringify(content)}\n`, { mode: 0o600 });
  } catch (error) {
    db.close();
    throw error;
  }
  held.set(dbFile, { db, file, holders: 1 });
  return releasable(dbFile);
}

function releasable(dbFile: string): DataDirLock {
  const entry = held.get(dbFile)!;
  let isReleased = false;
  return {
    file: entry.file,
    release() {
      if (isReleased) return;
      isReleased = true;
      entry.holders -= 1;
      if (entry.holders > 0) return;
      held.delete(dbFile);
      // The holder file goes first, while the lock still keeps everyone else from writing it. The
      // lock database stays: deleting a file others may have open lets two of them lock two inodes.
      try {
        unlinkSync(entry.file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      } finally {
        entry.db.close();
      }
    },
  };
}

function readLock(file: string): LockContent | undefined {
  try {
    const value = JSON.parse(readFileSync(file, "utf8")) as Partial<LockContent>;
    if (typeof value.pid !== "number" || !Number.isSafeInteger(value.pid) || value.pid <= 0) return undefined;
    return {
      pid: value.pid,
      host: typeof value.host === "string" ? value.host : undefined,
      since: typeof value.since === "string" ? value.since : undefined,
    };
  } catch {
    // Missing (the holder has not written it yet, or just released) or not JSON: no name to give.
    return undefined;
  }
}
