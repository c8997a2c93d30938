/**
 * One Nexus server per SQLite data directory. Two servers on one directory would each create the
 * development keyring and the bootstrap admin key if missing, and each run its own refresh schedule
 * and watch hub that the other never hears of, so the second is refused. The lock is a file created
 * with O_EXCL (atomic in the OS: of two starting processes exactly one creates it) holding the
 * owner's PID; a lock whose PID no longer runs (a crash, kill -9) is stale and taken over.
 */
import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

/** The lock file's name inside the data directory. */
export const LOCK_FILE = "nexus.lock";

/** A held lock. */
export interface DataDirLock {
  /** The lock file's path. */
  readonly file: string;
  /** Removes the lock file if it is still ours; safe to call twice. */
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
        `(several replicas need PostgreSQL: DATABASE_URL). If no such process runs, delete ${file}.`,
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

/**
 * Takes the lock on `dataDir` (created if missing, mode 0700) for this process.
 * @throws DataDirInUseError when another running process holds it.
 */
export function lockDataDir(dataDir: string, options: { pid?: number; isAlive?: (pid: number) => boolean } = {}): DataDirLock {
  const pid = options.pid ?? process.pid;
  const isAlive = options.isAlive ?? isProcessAlive;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, LOCK_FILE);
  const content: LockContent = { pid, host: hostname(), since: new Date().toISOString() };
  // Two rounds: create; if a stale lock is in the way, remove it and create again. A process that
  // wins the second create in between is then found alive and refuses us.
  for (let round = 0; round < 2; round += 1) {
    if (tryCreate(file, content)) return heldLock(file, pid);
    const holder = readLock(file);
    if (holder === undefined) {
      // Just created by a process that has not written its PID yet: it wins. Older and still
      // unreadable (a crash between create and write): nobody can prove a claim.
      if (ageMs(file) < HALF_WRITTEN_GRACE_MS) throw new DataDirInUseError(dataDir, -1, file, undefined);
      removeIfPresent(file);
      continue;
    }
    // This process already holds it (a second app in the same process, as some tests build).
    if (holder.pid === pid) return { file, release: () => {} };
    if (holder.host === hostname() && isAlive(holder.pid)) throw new DataDirInUseError(dataDir, holder.pid, file, holder.since);
    if (holder.host !== undefined && holder.host !== hostname()) {
      // A directory shared across machines (network file system): the PID means nothing here.
      throw new DataDirInUseError(dataDir, holder.pid, file, holder.since);
    }
    removeIfPresent(file);
  }
  const holder = readLock(file);
  throw new DataDirInUseError(dataDir, holder?.pid ?? -1, file, holder?.since);
}

/** How long an empty lock file counts as another process's claim in progress. */
const HALF_WRITTEN_GRACE_MS = 5_000;

function ageMs(file: string): number {
  try {
    return Date.now() - statSync(file).mtimeMs;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

function heldLock(file: string, pid: number): DataDirLock {
  let isReleased = false;
  return {
    file,
    release() {
      if (isReleased) return;
      isReleased = true;
      // Only our own lock: after a takeover (we were presumed dead) the file is someone else's.
      if (readLock(file)?.pid === pid) removeIfPresent(file);
    },
  };
}

function tryCreate(file: string, content: LockContent): boolean {
  let fd: number;
  try {
    fd = openSync(file, "wx", 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
  try {
    writeSync(fd, `${JSON.stringify(content)}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

function readLock(file: string): LockContent | undefined {
  try {
    const value = JSON.parse(readFileSync(file, "utf8")) as Partial<LockContent>;
    if (typeof value.pid !== "number" || !Number.isSafeInteger(value.pid) || value.pid <= 0) return undefined;
    return { pid: value.pid, host: typeof value.host === "string" ? value.host : undefined, since: typeof value.since === "string" ? value.since : undefined };
  } catch {
    // Missing (released meanwhile) or not JSON: treated as no valid claim.
    return undefined;
  }
}

function removeIfPresent(file: string): void {
  try {
    unlinkSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}

/** Signal 0 checks existence: ESRCH means gone; EPERM means alive under another user. */
function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
