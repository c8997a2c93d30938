/**
 * Temporary data directories for tests: created empty under the OS temp dir, removed by `remove()`.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** A temporary directory that a test owns. */
export interface TempDir {
  readonly path: string;
  remove(): void;
}

/** Creates an empty temporary directory. */
export function createTempDataDir(prefix = "nexus-test-"): TempDir {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { path: dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
