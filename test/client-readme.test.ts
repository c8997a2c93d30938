/**
 * Keeps the README's client section honest: every name its examples import from "@nexus/client"
 * is exported by the package entry (imported here through the repository's self-reference
 * "nexus/client", the same index.ts the package is built from), and the
 * translated Go example follows examples/agent.ts (run by client-example-agent.test.ts).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import * as entry from "nexus/client";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");

test("every name the README imports from @nexus/client exists", () => {
  const imports = [...readme.matchAll(/import \{([^}]+)\} from "@nexus\/client";/g)];
  assert.ok(imports.length >= 3, "the README has import lines");
  // Type-only names (`type Credential`) leave nothing at run time to look for.
  const names = imports.flatMap((m) =>
    m[1]!
      .split(",")
      .map((n) => n.trim())
      .filter((n) => n && !n.startsWith("type ")),
  );
  for (const name of names) assert.ok(name in entry, `@nexus/client does not export ${name}`);
});

test("the README's translated Go example uses the calls examples/agent.ts runs", () => {
  const example = readFileSync(new URL("../examples/agent.ts", import.meta.url), "utf8");
  for (const call of ["createNexusClient(", "createBridge(", "metricsHandler(", "bridge.maintainWebSocket("]) {
    assert.ok(readme.includes(call) && example.includes(call), `${call} in both`);
  }
});
