/**
 * Guards the suite's shape: `npm test` runs every file in one process (--test-isolation=none), where a
 * file-level before/after hook belongs to the root test and runs before the first test of the whole
 * run. A file that starts a server in such a hook keeps it (and its PostgreSQL connections) open for
 * the entire run, so each file keeps its hooks inside a describe.
 */

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";

const ROOT = path.resolve(import.meta.dirname, "..");

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".test.ts") && !e.parentPath.includes("node_modules"))
    .map((e) => path.join(e.parentPath, e.name));
}

test("no test file registers a before/after hook outside a describe", () => {
  const offenders: string[] = [];
  for (const file of ["server", "client", "test"].flatMap((d) => testFiles(path.join(ROOT, d)))) {
    const lines = readFileSync(file, "utf8").split("\n");
    const firstDescribe = lines.findIndex((l) => l.startsWith("describe("));
    lines.forEach((line, i) => {
      if (/^(before|after|beforeEach|afterEach)\(/.test(line) && (firstDescribe === -1 || i < firstDescribe)) {
        offenders.push(`${path.relative(ROOT, file)}:${i + 1}`);
      }
    });
  }
  assert.deepEqual(offenders, [], "wrap these files' tests and hooks in one describe");
});
