/**
 * One clock: server code outside config/ never reads the wall clock itself (`Date.now`, or
 * `new Date()` without an argument). Domain time comes from the `now` the app threads through;
 * the default clock is `systemNow` in config/defaults.ts. A static scan, with a short allowlist.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

const SERVER = join(import.meta.dirname, "..");

/** Files that may read the wall clock, each with why it is not domain time. */
const ALLOWED: Record<string, string> = {
  "vault/keyring.ts": "names a new keyring key after today's date (a label, never compared)",
  "store/sqlite/data-dir-lock.ts": "writes `since` into the lock file for an operator to read",
  "cli/token-command.ts": "stamps each printed watch event with its arrival time, like a log line",
};

/** `Date.now` called or passed as a clock, or `new Date()` with no argument; comments ignored. */
const WALL_CLOCK = /\bDate\.now\b|\bnew Date\(\s*\)/;

function sourceFiles(): string[] {
  return readdirSync(SERVER, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts") && !file.endsWith(".test.ts") && !file.endsWith(".d.ts"))
    .filter((file) => !file.startsWith(`config/`) && !file.includes("/migrations/"));
}

function wallClockLines(file: string): string[] {
  const text = readFileSync(join(SERVER, file), "utf8").replace(/\/\*[\s\S]*?\*\//g, (comment) => comment.replace(/[^\n]/g, " "));
  return text
    .split("\n")
    .map((line, i) => ({ code: line.replace(/\/\/.*$/, ""), n: i + 1 }))
    .filter(({ code }) => WALL_CLOCK.test(code))
    .map(({ code, n }) => `${file}:${n}: ${code.trim()}`);
}

test("server code outside config/ takes the injected clock, not Date.now or new Date()", () => {
  const found = sourceFiles().flatMap((file) => (file in ALLOWED ? [] : wallClockLines(file)));
  assert.deepEqual(found, [], "use the `now` passed in (the app's clock; default systemNow from config/defaults.ts)");
});

test("every allowlisted file still reads the wall clock (no stale entries)", () => {
  const files = new Set(sourceFiles());
  for (const file of Object.keys(ALLOWED)) {
    assert.ok(files.has(file), `${file} is allowlisted but does not exist`);
    assert.ok(wallClockLines(file).length > 0, `${file} is allowlisted but no longer reads the wall clock`);
  }
});

test("the scan sees a wall-clock read (so it cannot pass vacuously)", () => {
  assert.ok(sourceFiles().length > 100, "the scan reads the server's sources");
  assert.ok(WALL_CLOCK.test("const t = Date.now();") && WALL_CLOCK.test("now ?? Date.now") && WALL_CLOCK.test("new Date()"));
  assert.ok(!WALL_CLOCK.test("new Date(ms).toISOString()"));
});
