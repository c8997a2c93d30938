// Every status decision goes through the transition table: no server source file outside domain/
// compares a status with a state name, switches over one or keeps its own list of states (a short
// allowlist says why each exception stands). And the store refuses a move the table forbids, so
// every status write, whoever makes it, is checked (the conformance suite runs that on both stores).
import assert from "node:assert/strict";
import { test } from "node:test";
import { sourceFiles } from "./import-graph.ts";
import { rawStatusUses, scanFiles } from "./status-scan.ts";

/** Files allowed to name states, each with the reason. Keep it short. */
const ALLOWED: Readonly<Record<string, string>> = {
  "server/rpc/errors.ts": "exhaustive status → ErrorReason switch; the compiler checks every state is named",
  "server/store/conformance/connection-cases.ts": "store contract cases seed and move connections through named states",
};

const files = sourceFiles("server").filter((f) => !f.startsWith("server/domain/") && !f.startsWith("server/proto-mapping/"));

test("no raw status comparison, switch or state list outside domain/ (allowlist aside)", () => {
  assert.ok(files.length > 150, `scan found ${files.length} files`);
  const uses = scanFiles(files).filter((u) => !(u.file in ALLOWED));
  assert.deepEqual(
    uses.map((u) => `${u.file}:${u.line} ${u.kind}: ${u.text}`),
    [],
  );
});

test("every allowlisted file still needs its exception (no stale entry)", () => {
  const needed = new Set(scanFiles(Object.keys(ALLOWED)).map((u) => u.file));
  assert.deepEqual(
    Object.keys(ALLOWED).filter((f) => !needed.has(f)),
    [],
  );
});

test("the scan bites: the shapes the table replaced are each found", () => {
  const code = [
    'if (connection.status !== "active") throw new Error();',
    'const ok = "pending" === row.status;',
    'if (stored?.status === "revoked") return;',
    'const FINAL = new Set(["revoked", "attention_required"]);',
    'db.select().where(ne(connections.status, "active"));',
    'switch (c.status) { case "expired": break; }',
  ].join("\n");
  const found = rawStatusUses("server/x/example.ts", code);
  assert.deepEqual(
    found.map((u) => [u.line, u.kind]),
    [
      [1, "comparison"],
      [2, "comparison"],
      [3, "comparison"],
      [4, "status list"],
      [5, "comparison"],
      [6, "switch"],
    ],
  );
});

test("the scan leaves alone what is not a connection state", () => {
  const code = [
    "if (res.status === 415) return;",
    'if (outcome.status === "success") return;',
    'if (reason === "revoked") return;',
    'await store.updateConnectionStatus(t, id, "pending", "expired", "consent_timeout");',
  ].join("\n");
  assert.deepEqual(rawStatusUses("server/x/example.ts", code), []);
});
