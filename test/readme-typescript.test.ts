/**
 * The README's TypeScript examples type-check against the client's real types (strict, as the
 * repository compiles), so a reader who pastes one gets no type error. Examples are excerpts: a
 * name they take from the surrounding prose (`connectionId`, `client`, `signal`…) is allowed to
 * be missing, and so is what follows from it (an implicit any); every other error fails.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import ts from "typescript";
import { REPO } from "./support/readme-blocks.ts";

/** Diagnostics an excerpt may have: a name from the prose, and what follows from it. */
const PLACEHOLDER_CODES = new Set([
  2304, // Cannot find name 'x'.
  18004, // No value exists in scope for the shorthand property 'x'.
  7006, // Parameter 'x' implicitly has an 'any' type (a callback of an unknown name).
  7031, // Binding element 'x' implicitly has an 'any' type (same).
]);

describe("test/readme-typescript.test.ts", () => {
  test("every ```ts example of the README type-checks against the client's types", () => {
    const readme = readFileSync(join(REPO, "README.md"), "utf8");
    const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
    assert.ok(blocks.length >= 5, "the README has TypeScript examples");
    // Inside the repository, so "nexus/client" (the package's self-reference) resolves to client/index.ts.
    const dir = mkdtempSync(join(REPO, "test", ".readme-ts-"));
    try {
      const files = blocks.map((code, i) => {
        const file = join(dir, `example-${i + 1}.ts`);
        writeFileSync(file, `export {};\n${code.replaceAll('"@nexus/client"', '"nexus/client"')}`);
        return file;
      });
      const config = ts.getParsedCommandLineOfConfigFile(
        join(REPO, "tsconfig.json"),
        {},
        { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
      );
      assert.ok(config);
      const program = ts.createProgram(files, { ...config.options, noUnusedLocals: false, noEmit: true });
      const problems = files.flatMap((file) =>
        ts
          .getPreEmitDiagnostics(program, program.getSourceFile(file))
          .filter((d) => !PLACEHOLDER_CODES.has(d.code))
          .map((d) => {
            const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
            const text = ts.flattenDiagnosticMessageText(d.messageText, "\n");
            return `README example ${files.indexOf(file) + 1}, line ${line}: TS${d.code} ${text}\n    ${d.file!.text.split("\n")[line]?.trim()}`;
          }),
      );
      assert.deepEqual(problems, []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
