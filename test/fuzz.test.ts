/**
 * Robustness under malformed input: at least 10,000 generated requests (fast-check) across every
 * RPC over Connect JSON/binary/GET, gRPC and gRPC-Web, every REST path and the browser routes,
 * sent 8 at a time over one HTTP/2 session and an HTTP/1.1 keep-alive pool; inputs include bytes
 * that are not UTF-8, control characters in ids and names, and reserved envelope flag bits (which
 * must be refused as invalid_argument). No fixed answer time: each request waits for its headers
 * (bounded at 60 s), so a slow machine does not fail it. No answer may be
 * Internal/Unknown or HTTP 500, no connection may break, nothing may be logged at error level, the
 * server must stay healthy, and the database (audit log aside) must be byte-for-byte unchanged
 * (read behind the server's back: the SQLite file, or the PostgreSQL tables).
 * Reproduce a run with NEXUS_FUZZ_SEED=<seed> (printed); NEXUS_FUZZ_RUNS changes the batch count.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import fc from "fast-check";
import { Client } from "pg";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";
import { ServerReflection } from "../gen/grpc/reflection/v1/reflection_pb.ts";
import { NEXUS_SERVICES } from "../server/rpc/routes.ts";
import { SQLITE_FILE_NAME } from "../server/store/sqlite/store.ts";
import { createKeyProvider, PROVIDER, secretValue, seedConnection } from "./support/access-fixtures.ts";
import { type KeyChoice, malformedRequest, type RawRequest } from "./support/fuzz-requests.ts";
import { createRawClient, type RawClient, type RawResponse } from "./support/raw-client.ts";
import { startServer, type TestServer } from "./support/start-server.ts";
import { TEST_STORE } from "./support/test-store.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/fuzz.test.ts", () => {
  const BATCH = 8;
  const RUNS = Number(process.env.NEXUS_FUZZ_RUNS ?? 1_250);
  const SEED = process.env.NEXUS_FUZZ_SEED !== undefined ? Number(process.env.NEXUS_FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);

  let server: TestServer;
  let client: RawClient;
  const secrets: string[] = [];

  before(async () => {
    server = await startServer({ env: { NEXUS_MAX_BODY_BYTES: "65536", NEXUS_LOG_LEVEL: "info" } });
    await createKeyProvider(server);
    const value = secretValue("fuzz-credential");
    secrets.push(value, server.adminKey, server.agentKey);
    await seedConnection(server, "default", value);
    client = createRawClient(server.baseUrl);
  });
  after(async () => {
    client?.close();
    await server?.close();
  });

  /** Every table but the audit log (which grows with denials), rows in a stable order. */
  async function dumpDatabase(): Promise<string> {
    return TEST_STORE === "postgres" ? dumpPostgres() : dumpSqlite();
  }

  /** When a key last authenticated a request is bookkeeping, not state a request may change. */
  function withoutBookkeeping(table: string, row: Record<string, unknown>): Record<string, unknown> {
    return table === "api_keys" ? { ...row, last_used_at: null } : row;
  }

  function stringify(dump: Record<string, unknown[]>): string {
    return JSON.stringify(dump, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString("base64") : v));
  }

  function dumpSqlite(): string {
    const db = new Database(join(server.dataDir, SQLITE_FILE_NAME), { readonly: true });
    try {
      const tables = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('audit_events', 'sqlite_sequence') ORDER BY name")
        .all() as { name: string }[];
      const dump: Record<string, unknown[]> = {};
      for (const { name } of tables) {
        const rows = db.prepare(`SELECT * FROM "${name}" ORDER BY rowid`).all() as Record<string, unknown>[];
        dump[name] = rows.map((row) => withoutBookkeeping(name, row));
      }
      return stringify(dump);
    } finally {
      db.close();
    }
  }

  async function dumpPostgres(): Promise<string> {
    const client = new Client({ connectionString: server.storeEnv.DATABASE_URL });
    await client.connect();
    try {
      const tables = await client.query<{ name: string }>(
        "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> 'audit_events' ORDER BY table_name",
      );
      const dump: Record<string, unknown[]> = {};
      for (const { name } of tables.rows) {
        // No rowid: the rows' own serialisation gives a stable order.
        const rows = (await client.query<Record<string, unknown>>(`SELECT * FROM "${name}"`)).rows.map((row) =>
          stringify({ row: [withoutBookkeeping(name, row)] }),
        );
        dump[name] = rows.sort();
      }
      assert.ok(Object.keys(dump).length >= 5, "the dump reads the real tables");
      return stringify(dump);
    } finally {
      await client.end();
    }
  }

  function withKey(request: RawRequest, key: KeyChoice): RawRequest {
    const headers = { ...request.headers };
    if (key === "admin") headers.authorization = `Bearer ${server.adminKey}`;
    if (key === "agent") headers["x-api-key"] = server.agentKey;
    if (key === "garbage") headers.authorization = "Bearer nxk_\u0021garbage-that-is-long-enough-to-hash";
    return { ...request, headers };
  }

  /** Why an answer is unacceptable, or undefined when it is fine. */
  function problemWith(request: RawRequest, res: RawResponse): string | undefined {
    if (res.timedOut && !request.label.includes("reserved-flag"))
      return request.isStreaming && res.status === 200 ? undefined : `no answer in time (status ${res.status})`;
    if (res.error !== undefined && res.status === 0) return `transport error: ${res.error}`;
    if (res.status >= 500 && res.status !== 501) return `HTTP ${res.status}`;
    const grpcStatus = res.trailers["grpc-status"] ?? res.headers["grpc-status"];
    if (grpcStatus === "13" || grpcStatus === "2")
      return `grpc-status ${grpcStatus}: ${res.trailers["grpc-message"] ?? res.headers["grpc-message"] ?? ""}`;
    const text = res.body.toString("latin1");
    if (/"code":"(internal|unknown)"/.test(text)) return `error code in body: ${text.slice(0, 200)}`;
    if (/grpc-status: ?(13|2)\r?\n/.test(text)) return `grpc-web trailer: ${text.slice(0, 200)}`;
    // Reserved envelope flags are a protocol error (invalid_argument; a key-less bidi stream may hear
    // unauthenticated first): never a success, never an open stream.
    const isError = (grpcStatus !== undefined && grpcStatus !== "0") || /"code":"[a-z_]+"/.test(text) || /grpc-status: ?[1-9]/.test(text);
    if (request.label.includes("reserved-flag") && (!isError || res.timedOut)) {
      return `reserved envelope flags not refused (HTTP ${res.status}, grpc-status ${grpcStatus ?? "none"})`;
    }
    return undefined;
  }

  test(`${RUNS * BATCH} malformed requests: no Internal, no 500, no crash, database unchanged`, async (t) => {
    const methods = [...NEXUS_SERVICES, Health, ServerReflection].flatMap((s) => s.methods);
    const before = await dumpDatabase();
    const logStart = server.logs().length;
    let sent = 0;
    const byLabel = new Map<string, number>();
    const started = performance.now();
    t.diagnostic(`fuzz seed ${SEED} (reproduce with NEXUS_FUZZ_SEED=${SEED})`);

    await fc.assert(
      fc.asyncProperty(
        fc.array(malformedRequest({ methods, realProvider: PROVIDER }), { minLength: BATCH, maxLength: BATCH }),
        async (batch) => {
          const answers = await Promise.all(
            batch.map(async ({ request, key }) => {
              const sendable = withKey(request, key);
              // Wait for the answer's headers as long as a loaded machine needs (bounded); a stream that
              // was let in (health watch) stays open, so 300 ms after its headers it has shown enough.
              // A stream opened with reserved envelope flags must be ended by the server: wait for that end
              // (bounded) rather than a short window after the headers, which a loaded machine can miss.
              const isReservedFlag = request.label.includes("reserved-flag");
              const res = await client.send(sendable, 60_000, request.isStreaming && !isReservedFlag ? 300 : undefined);
              sent += 1;
              const kind = request.label.split(" ")[0]!;
              byLabel.set(kind, (byLabel.get(kind) ?? 0) + 1);
              return { request: sendable, res };
            }),
          );
          for (const { request, res } of answers) {
            const problem = problemWith(request, res);
            if (problem !== undefined) {
              throw new Error(`${request.label} ${request.transport} ${request.method} ${request.path.slice(0, 120)}: ${problem}`);
            }
          }
        },
      ),
      {
        seed: SEED,
        numRuns: RUNS,
        endOnFailure: true,
        // The default report prints every byte of the failing batch (megabytes for deep nesting).
        reporter: (details) => {
          if (!details.failed) return;
          const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
          throw new Error(
            `fuzz failed after ${details.numRuns} batches (seed ${details.seed}, path "${details.counterexamplePath}"): ${cause.slice(0, 1_000)}`,
          );
        },
      },
    );

    const durationMs = Math.round(performance.now() - started);
    t.diagnostic(`fuzz: ${sent} requests in ${durationMs} ms, seed ${SEED}; by protocol ${JSON.stringify(Object.fromEntries(byLabel))}`);
    assert.ok(sent >= 10_000 || RUNS < 1_250, `sent ${sent} requests`);

    // Still healthy and still serving real requests.
    assert.equal((await fetch(`${server.baseUrl}/healthz`)).status, 200);
    assert.equal((await fetch(`${server.baseUrl}/readyz`)).status, 200);
    const ok = await fetch(`${server.baseUrl}/v1/connections`, { headers: server.auth() });
    assert.equal(ok.status, 200);

    assert.equal(await dumpDatabase(), before, "no malformed request changed the database");
    const logs = server.logs().slice(logStart);
    const errors = logs.split("\n").filter((line) => line.includes('"level":50') || line.includes('"level":60'));
    assert.deepEqual(errors.slice(0, 3), [], "nothing was logged at error level");
    for (const secret of secrets) assert.ok(!server.logs().includes(secret), "no secret value in the logs");
    await server.app.audit.flush();
    const denied = await server.app.store.listAuditEvents({ action: "request.denied" }, { pageSize: 1 });
    assert.equal(denied.items.length, 1, "denials of the fuzz run were audited");
  });
});
