/**
 * Figure 3, the refresh stampede: 1,000 concurrent GetToken calls on a connection whose access
 * token has expired must cost the provider exactly one refresh_token grant — on SQLite (one
 * process) and on PostgreSQL (three `node server/main.ts` replicas sharing a fresh database). The
 * burst's wall time is compared with the same burst once the token is valid again (same run).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { TokenService } from "../gen/nexus/v1/tokens_pb.ts";
import { createApiKeyManager } from "../server/auth/api-key-manager.ts";
import type { Store } from "../server/store/store.ts";
import { parseKeyring } from "../server/vault/keyring.ts";
import { createVault } from "../server/vault/vault.ts";
import type { BenchContext, Benchmark } from "./bench-context.ts";
import { BENCH_POSTGRES_URL, type BenchDatabase, createBenchDatabase } from "./bench-database.ts";
import { benchServerEnv, createBenchSecrets } from "./bench-env.ts";
import { type Figure, makeFigure, TARGETS } from "./figure.ts";
import { seedConnections } from "./seed-connections.ts";
import { type ServerProcess, spawnServer } from "./server-process.ts";
import { startTokenEndpoint } from "./token-endpoint.ts";

/** Sessions per server the callers are spread over. */
const SESSIONS_PER_SERVER = 4;

/** The stampede benchmark. */
export const stampedeBench: Benchmark = {
  name: "stampede",
  tools: [],
  async run(context) {
    const callers = context.quick ? 200 : 1000;
    const figures: Figure[] = [];
    const extra: Record<string, unknown> = {};
    for (const backend of ["sqlite", "postgres"] as const) {
      const replicas = backend === "sqlite" ? 1 : 3;
      let database: BenchDatabase | undefined;
      if (backend === "postgres") {
        try {
          database = await createBenchDatabase();
        } catch (err) {
          // No PostgreSQL on this machine: say so, and keep the SQLite figures.
          const reason = `PostgreSQL at ${BENCH_POSTGRES_URL} unreachable: ${err instanceof Error ? err.message : String(err)}`;
          context.progress(`stampede: skipping PostgreSQL (${reason})`);
          extra[backend] = { skipped: reason };
          continue;
        }
      }
      const result = await stampede(context, backend, replicas, callers, database);
      extra[backend] = result;
      const label = `${backend === "sqlite" ? "SQLite, 1 process" : "PostgreSQL, 3 processes"}`;
      figures.push(
        makeFigure({
          name: `Refresh stampede (${label}): provider token calls for ${callers} concurrent GetToken`,
          value: result.providerCalls,
          unit: "calls",
          target: TARGETS.exactly(1),
          note: "provider answers after 100 ms; every caller got the refreshed token",
        }),
        makeFigure({
          name: `Refresh stampede (${label}): burst wall time`,
          value: result.stampedeMs,
          unit: "ms",
          baseline: result.validBurstMs,
          note: "baseline: the same burst once the token is valid (no refresh)",
        }),
      );
    }
    return { figures, extra: { stampede: extra } };
  },
};

async function stampede(
  context: BenchContext,
  backend: "sqlite" | "postgres",
  replicas: number,
  callers: number,
  database: BenchDatabase | undefined,
) {
  const provider = await startTokenEndpoint({ delayMs: 100 });
  const secrets = createBenchSecrets();
  const dataDirs: string[] = [];
  const servers: ServerProcess[] = [];
  const managers: Http2SessionManager[] = [];
  try {
    const dataDir = mkdtempSync(join(context.scratchDir, "stampede-"));
    dataDirs.push(dataDir);
    // Seed before the servers start, through the same store and vault code they use.
    const store = await openBackend(backend, dataDir, database?.url);
    const seeded = await seedConnections(
      { store, vault: createVault(parseKeyring(secrets.encryptionKeys)), apiKeys: createApiKeyManager({ store, now: Date.now }) },
      { count: 1, tokenEndpoint: provider.url, expiresInS: -60, withRefreshToken: true },
    );
    await store.close();
    for (let i = 0; i < replicas; i += 1) {
      const dir = i === 0 ? dataDir : mkdtempSync(join(context.scratchDir, "stampede-"));
      if (i > 0) dataDirs.push(dir);
      servers.push(spawnServer(benchServerEnv(secrets, { NEXUS_DATA_DIR: dir, ...(database ? { DATABASE_URL: database.url } : {}) })));
    }
    const ports = await Promise.all(servers.map((s) => s.listening));
    context.progress(
      `stampede: ${backend}: ${replicas} server(s) on ${ports.join(", ")}; ${callers} concurrent GetToken on an expired token`,
    );
    const clients = ports.flatMap((port) =>
      Array.from({ length: SESSIONS_PER_SERVER }, () => {
        const manager = new Http2SessionManager(`http://127.0.0.1:${port}`);
        managers.push(manager);
        return createClient(
          TokenService,
          createGrpcTransport({
            baseUrl: `http://127.0.0.1:${port}`,
            sessionManager: manager,
            interceptors: [
              (next) => (req) => {
                req.header.set("authorization", `Bearer ${seeded.agentKey}`);
                return next(req);
              },
            ],
          }),
        );
      }),
    );
    const connectionId = seeded.connectionIds[0] ?? "";
    // Open every session first, so the burst measures the refresh and not connection set-up.
    await Promise.all(clients.map((client) => client.getToken({ connectionId: "conn_warmup" }).catch(() => undefined)));
    const stampede = await burst(clients, connectionId, callers);
    const providerCalls = provider.refreshGrants();
    if (stampede.tokens.size !== 1 || ![...stampede.tokens][0]?.startsWith("at-refreshed-")) {
      throw new Error(
        `stampede on ${backend}: callers got ${stampede.tokens.size} different tokens: ${[...stampede.tokens].slice(0, 3).join(", ")}`,
      );
    }
    const valid = await burst(clients, connectionId, callers);
    context.progress(
      `stampede: ${backend}: ${providerCalls} provider call(s); burst ${stampede.ms.toFixed(0)} ms (valid token: ${valid.ms.toFixed(0)} ms)`,
    );
    return { replicas, callers, providerCalls, stampedeMs: stampede.ms, validBurstMs: valid.ms };
  } finally {
    for (const manager of managers) manager.abort();
    await Promise.all(servers.map((s) => s.stop()));
    await provider.close();
    await database?.drop();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  }
}

/** `callers` GetToken calls at once, spread over the clients; resolves with wall time and tokens seen. */
async function burst(clients: Client<typeof TokenService>[], connectionId: string, callers: number) {
  const started = performance.now();
  const responses = await Promise.all(Array.from({ length: callers }, (_, i) => clients[i % clients.length]!.getToken({ connectionId })));
  const ms = performance.now() - started;
  return { ms, tokens: new Set(responses.map((r) => String(r.credential?.credentials?.access_token))) };
}

async function openBackend(backend: "sqlite" | "postgres", dataDir: string, url: string | undefined): Promise<Store> {
  if (backend === "postgres") {
    const { createPostgresStore } = await import("../server/store/postgres/store.ts");
    return createPostgresStore({ connectionString: url ?? "", now: Date.now });
  }
  const { createSqliteStore } = await import("../server/store/sqlite/store.ts");
  return createSqliteStore({ dataDir, now: Date.now });
}
