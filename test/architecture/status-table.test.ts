// Every status decision goes through the transition table: no server source file outside domain/
// compares a status with a state name, switches over one or keeps its own list of states (a short
// allowlist says why each exception stands). Every status write goes through
// server/lifecycle/connection-transition.ts (no other server source calls the store's status
// writers or writes the column itself), and the store refuses a move the table forbids as well
// (the conformance suite runs that on both stores).
import assert from "node:assert/strict";
import { test } from "node:test";
import { sourceFiles } from "./import-graph.ts";
import { rawStatusUses, scanFiles, scanStatusWrites, statusWrites } from "./status-scan.ts";

/** Files allowed to name states, each with the reason. Keep it short. */
const ALLOWED: Readonly<Record<string, string>> = {
  "server/rpc/errors.ts": "exhaustive status → ErrorReason switch; the compiler checks every state is named",
  "server/store/conformance/connection-status-cases.ts": "store contract cases move connections through named states",
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

/** Files allowed to write a status without the transition path, each with the reason. Keep it short. */
const WRITERS: Readonly<Record<string, string>> = {
  "server/lifecycle/connection-transition.ts": "the transition path itself",
  "server/watch/publishing-store.ts": "a Store decorator: forwards the write it was given and publishes it",
};
/** Whole folders that implement or test the store's contract rather than change a connection's state. */
const WRITER_FOLDERS = ["server/store/conformance/"];

const allFiles = sourceFiles("server");

test("no status write outside the transition path (allowlist aside)", () => {
  const writes = scanStatusWrites(allFiles).filter((w) => !(w.file in WRITERS) && !WRITER_FOLDERS.some((f) => w.file.startsWith(f)));
  assert.deepEqual(
    writes.map((w) => `${w.file}:${w.line} ${w.text}`),
    [],
  );
});

test("every allowlisted writer still writes (no stale entry)", () => {
  const needed = new Set(scanStatusWrites(Object.keys(WRITERS)).map((w) => w.file));
  assert.deepEqual(
    Object.keys(WRITERS).filter((f) => !needed.has(f)),
    [],
  );
});

test("the write scan bites: each way around the transition path is found", () => {
  const code = [
    'await store.updateConnectionStatus(t, id, "active", "expired", null);',
    'await deps.store.createConnection({ tenantId, userId, providerName, status: "active" });',
    "db.update(connections).set({ status: next, updatedAt: now }).where(x);",
    'db.insert(connections).values({ id, "status": "active" });',
    'await pool.query("UPDATE connections SET status = $1 WHERE id = $2", [s, id]);',
    "await sql`insert into connections (id, status) values (?, ?)`;",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the source text of a drizzle sql`…` template
    "await tx.execute(sql`update ${connections} set status = ${next} where id = ${id}`);",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the source text of a drizzle sql`…` template
    "await tx.execute(sql`insert into ${connections} (id, tenant_id, status) values (${id}, ${t}, 'active')`);",
  ].join("\n");
  assert.deepEqual(
    statusWrites("server/x/example.ts", code).map((w) => w.line),
    [1, 2, 3, 4, 5, 6, 7, 8],
  );
});

test("the write scan leaves alone what writes no status", () => {
  const code = [
    'await transition(store, connection, "expired", "consent_timeout");',
    "db.update(connections).set({ nextRefreshAt: null }).where(x);",
    "db.update(connections).set(connectionStatusUpdate(next, reason, changes, now));",
    'sendJson(res, 200, { status: "ok" });',
    'await pool.query("UPDATE refresh_leases SET owner = $1", [o]);',
    'log.info({ status: "active" }, "connection changed");',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the source text of a drizzle sql`…` template
    "await tx.execute(sql`insert into ${connectionEvents} (event_id, connection) select ${id}, ${snapshot}`);",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the source text of a drizzle sql`…` template
    "await tx.execute(sql`update ${connections_archive} set status = ${s}`);",
  ].join("\n");
  assert.deepEqual(statusWrites("server/x/example.ts", code), []);
});
