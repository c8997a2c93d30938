import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { bareSpecifierKey, createPackageFormatResolver } from "./package-format-hook.ts";

const IMPORT = ["node", "import", "node-addons"];

// A fake install: an ESM package with a nested CommonJS folder, a symlinked file, a directory
// named like a module, a scoped package, and a package with no "type".
let root: string;
const file = (path: string, text: string) => {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
};
const url = (path: string) => pathToFileURL(join(root, path)).href;

describe("package-format hook", () => {
  before(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), "nexus-format-hook-")));
    file("package.json", JSON.stringify({ type: "module" }));
    file("node_modules/esm-pkg/package.json", JSON.stringify({ name: "esm-pkg", type: "module", exports: { ".": "./index.js" } }));
    file(
      "node_modules/esm-pkg/index.js",
      'import { a } from "./lib/a.js";\nimport { c } from "./cjs/c.js";\nexport const value = a + c;\n',
    );
    file("node_modules/esm-pkg/lib/a.js", 'export { b as a } from "../b.js";\n');
    file("node_modules/esm-pkg/b.js", "export const b = 1;\n");
    file("node_modules/esm-pkg/cjs/package.json", JSON.stringify({ type: "commonjs" }));
    file("node_modules/esm-pkg/cjs/c.js", "exports.c = 2;\n");
    file("node_modules/esm-pkg/real.js", "export const r = 3;\n");
    symlinkSync(join(root, "node_modules/esm-pkg/real.js"), join(root, "node_modules/esm-pkg/linked.js"));
    mkdirSync(join(root, "node_modules/esm-pkg/dir.js"));
    file("node_modules/@scope/pkg/package.json", JSON.stringify({ name: "@scope/pkg", type: "module" }));
    file("node_modules/@scope/pkg/x.js", "export const x = 1;\n");
    file("node_modules/plain/package.json", JSON.stringify({ name: "plain" }));
    file("node_modules/plain/y.js", "exports.y = 1;\n");
    file("main.js", 'import { value } from "esm-pkg";\nconsole.log(JSON.stringify(value));\n');
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  describe("package-format resolver", () => {
    test("answers a relative .js import between files of an ESM package with the file and format module", () => {
      const resolve = createPackageFormatResolver();
      const parentURL = url("node_modules/esm-pkg/lib/a.js");
      assert.deepEqual(resolve("../b.js", { parentURL, conditions: IMPORT }), { url: url("node_modules/esm-pkg/b.js"), format: "module" });
      assert.deepEqual(resolve("./x.js", { parentURL: url("node_modules/@scope/pkg/x.js"), conditions: IMPORT }), {
        url: url("node_modules/@scope/pkg/x.js"),
        format: "module",
      });
    });

    test("leaves everything else to Node's resolver", () => {
      const resolve = createPackageFormatResolver();
      const fromIndex = { parentURL: url("node_modules/esm-pkg/index.js"), conditions: IMPORT };
      const cases: [string, { parentURL: string; conditions: string[] }, string][] = [
        ["./cjs/c.js", fromIndex, "a nested package.json says commonjs"],
        ["./linked.js", fromIndex, "a symlink (Node returns its real path)"],
        ["./dir.js", fromIndex, "a directory"],
        ["./missing.js", fromIndex, "a missing file (Node's error)"],
        ["./b.js?x=1", fromIndex, "a query"],
        ["./b%2Ejs", fromIndex, "percent-encoding"],
        ["esm-pkg", fromIndex, "a bare specifier"],
        ["../plain/y.js", fromIndex, "another package"],
        ["./y.js", { parentURL: url("node_modules/plain/y.js"), conditions: IMPORT }, "a package without type module"],
        ["./b.js", { parentURL: url("main.js"), conditions: IMPORT }, "our own files, outside node_modules"],
        ["./b.js", { parentURL: fromIndex.parentURL, conditions: ["node", "require"] }, "require()"],
      ];
      for (const [specifier, context, why] of cases) assert.equal(resolve(specifier, context), undefined, why);
    });

    test("bare specifiers share a cache key per importing folder and conditions only", () => {
      const a = bareSpecifierKey("drizzle-orm/sqlite-core", { parentURL: "file:///app/server/store/a.ts", conditions: IMPORT });
      assert.ok(a);
      assert.equal(bareSpecifierKey("drizzle-orm/sqlite-core", { parentURL: "file:///app/server/store/b.ts", conditions: IMPORT }), a);
      assert.notEqual(bareSpecifierKey("drizzle-orm/sqlite-core", { parentURL: "file:///app/server/c.ts", conditions: IMPORT }), a);
      assert.notEqual(
        bareSpecifierKey("drizzle-orm/sqlite-core", { parentURL: "file:///app/server/store/a.ts", conditions: ["require"] }),
        a,
      );
      for (const specifier of ["./a.js", "../a.js", "/abs.js", "node:fs", "#internal", "file:///x.js"]) {
        assert.equal(bareSpecifierKey(specifier, { parentURL: "file:///app/a.ts", conditions: IMPORT }), undefined, specifier);
      }
      assert.equal(
        bareSpecifierKey("pkg", { parentURL: "file:///app/a.ts", conditions: IMPORT, importAttributes: { type: "json" } }),
        undefined,
      );
    });

    test("a process with the hook registered loads the same modules as one without", () => {
      const hook = pathToFileURL(join(import.meta.dirname, "package-format-hook.ts")).href;
      const run = (args: string[]) => spawnSync(process.execPath, [...args, join(root, "main.js")], { encoding: "utf8", cwd: root });
      const plain = run([]);
      const hooked = run([
        "--import",
        `data:text/javascript,import { registerPackageFormatHook } from ${JSON.stringify(hook)}; registerPackageFormatHook();`,
      ]);
      assert.equal(plain.status, 0, plain.stderr);
      assert.equal(hooked.status, 0, hooked.stderr);
      assert.equal(hooked.stdout, plain.stdout);
      assert.equal(hooked.stdout.trim(), "3");
    });
  });
});
