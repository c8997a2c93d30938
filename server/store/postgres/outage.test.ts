import assert from "node:assert/strict";
import { createServer } from "node:net";
import { test } from "node:test";
import { DatabaseError, Pool } from "pg";
import { StoreUnavailableError } from "../../domain/errors.ts";
import { outageReason } from "./outage.ts";
import { runQuery } from "./run-query.ts";

const dbError = (code: string, message = "x") => Object.assign(new DatabaseError(message, 0, "error"), { code });

test("connection failures are outages; ordinary query failures are not", () => {
  assert.match(outageReason(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }))!, /ECONNREFUSED/);
  assert.match(outageReason(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }))!, /ECONNRESET/);
  assert.equal(outageReason(new Error("Connection terminated unexpectedly")), "connection lost");
  assert.equal(outageReason(new Error("timeout exceeded when trying to connect")), "connection lost");
  assert.equal(outageReason(new Error("Connection terminated due to connection timeout")), "connection lost");
  assert.equal(outageReason(new Error("Query read timeout")), "database did not answer in time");
  assert.match(outageReason(dbError("57014", "canceling statement due to statement timeout"))!, /statement timeout/);
  for (const code of ["57P01", "57P02", "57P03", "08006", "08001", "53300"]) assert.ok(outageReason(dbError(code)), code);
  assert.ok(outageReason(dbError("55000", 'database "x" is not currently accepting connections')));
  for (const code of ["23505", "42P01", "40001", "22P02", "55000"]) assert.equal(outageReason(dbError(code)), undefined, code);
  assert.equal(outageReason(new Error("boom")), undefined);
  assert.equal(outageReason("not an error"), undefined);
});

test("a query to a database that refuses connections fails StoreUnavailableError, not a fault", async () => {
  // A port that was just free: nothing listens there.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  const pool = new Pool({ connectionString: `postgres://postgres@127.0.0.1:${port}/none`, connectionTimeoutMillis: 2_000 });
  try {
    await assert.rejects(
      runQuery(() => pool.query("select 1")),
      (err: Error) => err instanceof StoreUnavailableError && /ECONNREFUSED/.test(err.message),
    );
  } finally {
    await pool.end();
  }
});

test("a server that accepts and hangs up is an outage too", async () => {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  const pool = new Pool({ connectionString: `postgres://postgres@127.0.0.1:${port}/none`, connectionTimeoutMillis: 2_000 });
  try {
    await assert.rejects(
      runQuery(() => pool.query("select 1")),
      StoreUnavailableError,
    );
  } finally {
    await pool.end();
    await new Promise((resolve) => server.close(resolve));
  }
});
