// The dependency test: server/ and client/ source files (tests left out) hold to the folder rules in
// dependency-rules.ts, with no import cycle between folders or files. It also proves the check
// bites: the edges that closed the old 13-folder cycle, put back one at a time, are each refused.
import assert from "node:assert/strict";
import { test } from "node:test";
import { FOLDER_LAYERS, violations } from "./dependency-rules.ts";
import { type ImportEdge, importsOf, sourceFiles } from "./import-graph.ts";

const files = [...sourceFiles("server"), ...sourceFiles("client")];
const edges = files.flatMap((file) => importsOf(file));

test("server/ and client/ hold to the folder rules: no forbidden edge, no import cycle", () => {
  assert.ok(files.length > 150 && edges.length > 1000, `scan found ${files.length} files, ${edges.length} imports`);
  assert.deepEqual(violations(edges, files), []);
});

test("every folder in the layer table exists (no stale rule)", () => {
  const folders = new Set(sourceFiles("server").map((file) => file.split("/")[1]));
  assert.deepEqual(
    Object.keys(FOLDER_LAYERS).filter((folder) => !folders.has(folder)),
    [],
  );
});

test("an old cycle-closing edge put back is refused, with the folder cycle it closes", () => {
  const cases: ImportEdge[] = [
    { from: "server/proto-mapping/proto-profile.ts", to: "server/services/token-service.ts", typeOnly: false },
    { from: "server/audit/audit-actions.ts", to: "server/rpc/errors.ts", typeOnly: false },
    { from: "server/config/config.ts", to: "server/consent/consent-flow.ts", typeOnly: true },
    { from: "server/rpc/interceptors/in-process-address-interceptor.ts", to: "server/rest/rest-handler.ts", typeOnly: false },
    { from: "server/auth/tenant-scope.ts", to: "server/rpc/interceptors/auth-interceptor.ts", typeOnly: false },
  ];
  for (const extra of cases) {
    const found = violations([...edges, extra], files);
    assert.ok(
      found.some((line) => line.startsWith(`${extra.from} → ${extra.to}`)),
      `layer rule: ${extra.from}`,
    );
    assert.ok(
      found.some((line) => line.startsWith("import cycle between folders:")),
      `cycle: ${extra.from}\n${found.join("\n")}`,
    );
  }
});

test("a cycle between two files of one folder is refused", () => {
  const extra = { from: "server/refresh/refresh-options.ts", to: "server/refresh/refresh-engine.ts", typeOnly: true };
  const found = violations([...edges, extra], files);
  assert.ok(
    found.some((line) => line.startsWith("import cycle between files:") && line.includes("server/refresh/refresh-engine.ts")),
    found.join("\n"),
  );
});

test("the named rules: domain imports no server folder, store no service, services no http, no test support", () => {
  const cases: ImportEdge[] = [
    { from: "server/domain/errors.ts", to: "server/config/config.ts", typeOnly: true },
    { from: "server/store/store.ts", to: "gen/nexus/v1/status_pb.ts", typeOnly: false },
    { from: "server/services/token-service.ts", to: "server/http/cors.ts", typeOnly: false },
    { from: "server/capture/key-capture.ts", to: "test/support/temp-data-dir.ts", typeOnly: false },
  ];
  for (const extra of cases) {
    assert.ok(
      violations([...edges, extra], files).some((line) => line.startsWith(`${extra.from} → ${extra.to}:`)),
      extra.from,
    );
  }
});

test("the scan reads every import form: type-only, re-export, dynamic import", () => {
  const text = [
    'import type { A } from "../domain/errors.ts";',
    'import { type B } from "./b.ts";',
    'export { C } from "../store/store.ts";',
    'const d = await import("../rpc/errors.ts");',
    'import e from "node:fs";',
  ].join("\n");
  assert.deepEqual(importsOf("server/auth/x.ts", text), [
    { from: "server/auth/x.ts", to: "server/domain/errors.ts", typeOnly: true },
    { from: "server/auth/x.ts", to: "server/auth/b.ts", typeOnly: true },
    { from: "server/auth/x.ts", to: "server/store/store.ts", typeOnly: false },
    { from: "server/auth/x.ts", to: "server/rpc/errors.ts", typeOnly: false },
    { from: "server/auth/x.ts", to: "node:fs", typeOnly: false },
  ]);
});
