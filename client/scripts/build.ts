/**
 * `npm run build`: compiles the client and the generated code it imports into dist/ with tsc
 * (tsconfig.build.json). tsc rewrites `.ts` specifiers to `.js` in the JavaScript it emits but
 * keeps them in the .d.ts files, which TypeScript < 5 and some tools reject; the one step after
 * tsc rewrites those relative specifiers too. TypeScript comes from the repository's root.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const packageDir = join(import.meta.dirname, "..");
const dist = join(packageDir, "dist");

rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const compiled = spawnSync(process.execPath, [tsc, "-p", join(packageDir, "tsconfig.build.json")], { stdio: ["ignore", 2, 2] }); // stdout stays clean for `npm pack --json`
if (compiled.status !== 0) process.exit(compiled.status ?? 1);

// `from "./x.ts"`, `import("../y.ts")` → `.js`: only relative specifiers, as tsc does for the JS.
const relativeTs = /((?:from|import)\s*\(?\s*)(["'])(\.{1,2}\/[^"']*?)\.ts\2/g;
let rewritten = 0;
for (const entry of readdirSync(dist, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith(".d.ts")) continue;
  const file = join(entry.parentPath, entry.name);
  const text = readFileSync(file, "utf8");
  const fixed = text.replace(relativeTs, "$1$2$3.js$2");
  if (fixed !== text) {
    writeFileSync(file, fixed);
    rewritten++;
  }
}
console.error(`build: dist/ written (${rewritten} declaration files had their .ts specifiers rewritten)`);
