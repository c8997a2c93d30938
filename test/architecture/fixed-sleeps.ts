/**
 * Finds fixed wall-clock sleeps in test code: a sleep, delay or setTimeout(resolve, …) with
 * a literal duration, awaited instead of an event, a polled condition
 * (test/support/wait.ts) or an injected clock. Scans every file under test/ and the test files and
 * test helpers under server/ and client/.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

/** A literal-duration sleep: sleep(…)/delay(…) with a number, or setTimeout(callback, number). */
export const FIXED_SLEEP = /\b(?:sleep|delay)\(\s*[\d_]+\s*[,)]|setTimeout\(\s*\w+\s*,\s*[\d_]+\s*\)/g;

/** Whether `file` (repo-relative, "/"-separated) is test code the rule applies to. */
export function isTestCode(file: string): boolean {
  if (!file.endsWith(".ts") || file.endsWith(".d.ts")) return false;
  // The rule's own files quote the forms they look for.
  if (file.startsWith("test/architecture/") && file.includes("fixed-sleeps")) return false;
  if (file.startsWith("test/")) return true;
  const name = path.posix.basename(file);
  return (file.startsWith("server/") || file.startsWith("client/")) && /(^test-|[.-]test[.-]|-cases\.ts$|\.test\.ts$)/.test(name);
}

/** Repo-relative paths of every test-code file under `roots`. */
export function testCodeFiles(roots: readonly string[] = ["test", "server", "client"]): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
      const full = path.posix.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (isTestCode(full)) found.push(full);
    }
  };
  for (const root of roots) walk(root);
  return found.sort();
}

/** The fixed sleeps in `text`, as "line: source" strings. */
export function fixedSleeps(text: string): string[] {
  return text.split("\n").flatMap((line, i) => (line.match(FIXED_SLEEP) ?? []).map(() => `${i + 1}: ${line.trim()}`));
}

/** file → its fixed sleeps, for every test-code file that has any. */
export function fixedSleepsByFile(files: readonly string[] = testCodeFiles()): Map<string, string[]> {
  const result = new Map<string, string[]>();
  for (const file of files) {
    const found = fixedSleeps(readFileSync(file, "utf8"));
    if (found.length > 0) result.set(file, found);
  }
  return result;
}
