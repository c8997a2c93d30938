/**
 * Figure 4, the scheduler's cost: one tick (`listDueRefreshes` + a refresh of each due connection
 * through the real engine, vault and SQLite store, against a provider grant that answers at once)
 * with 100 connections due among 10,000 and then among 100,000. Targets: the tick at 100k takes
 * <= 20 ms and does not grow with the table (ratio 100k/10k <= 1.5).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { join } from "node:path";
import Database from "better-sqlite3";
import { inArray } from "drizzle-orm";
import { drizzle } from "drizzle-orm/better-sqlite3";
import { createApiKeyManager } from "../server/auth/api-key-manager.ts";
import {
  DEFAULT_REFRESH_CONCURRENCY,
  DEFAULT_REFRESH_LEASE_MS,
  DEFAULT_REFRESH_READ_WAIT_MS,
  DEFAULT_REFRESH_SKEW_MS,
} from "../server/config/defaults.ts";
import { credentialAad, encodeStoredSecret } from "../server/domain/stored-secret.ts";
import { createLogger } from "../server/logging/logger.ts";
import { createProviderDirectory } from "../server/providers/provider-directory.ts";
import { createRefreshEngine } from "../server/refresh/refresh-engine.ts";
import { createRefreshScheduler } from "../server/refresh/refresh-scheduler.ts";
import { connections, credentials } from "../server/store/sqlite/schema.ts";
import { createSqliteStore, SQLITE_FILE_NAME } from "../server/store/sqlite/store.ts";
import { generateKeyringText, parseKeyring } from "../server/vault/keyring.ts";
import { createVault, type Vault } from "../server/vault/vault.ts";
import type { Benchmark } from "./bench-context.ts";
import { type Figure, makeFigure, type Target } from "./figure.ts";
import { summarizeLatencies } from "./percentiles.ts";
import { BENCH_PROVIDER, BENCH_TENANT, seedConnections } from "./seed-connections.ts";

const DUE = 100;
const INSERT_CHUNK = 500;

/** The scheduler benchmark. */
export const schedulerBench: Benchmark = {
  name: "scheduler",
  tools: [],
  async run(context) {
    const [small, large] = context.quick ? [2_000, 20_000] : [10_000, 100_000];
    const ticks = context.quick ? 3 : 7;
    const dataDir = mkdtempSync(join(context.scratchDir, "scheduler-"));
    const store = await createSqliteStore({ dataDir, now: Date.now });
    // A second handle on the same WAL database, for bulk inserts the Store interface does not offer.
    const client = new Database(join(dataDir, SQLITE_FILE_NAME));
    try {
      const vault = createVault(parseKeyring(generateKeyringText("kbench")));
      await seedConnections(
        { store, vault, apiKeys: createApiKeyManager({ store, now: Date.now }) },
        {
          count: 0,
          tokenEndpoint: "http://127.0.0.1:9/token",
          expiresInS: 3600,
          withRefreshToken: true,
        },
      );
      const logger = createLogger({ level: "silent" });
      const engine = createRefreshEngine({
        store,
        vault,
        providers: createProviderDirectory({ store, vault }),
        // A provider that answers at once: the figure is Nexus's own cost per tick.
        refreshGrant: async () => ({
          accessToken: "at-scheduled",
          tokenType: "Bearer",
          refreshToken: "rt-next",
          expiresAtSeconds: Math.floor(Date.now() / 1000) + 3600,
        }),
        now: Date.now,
        skewMs: DEFAULT_REFRESH_SKEW_MS,
        leaseMs: DEFAULT_REFRESH_LEASE_MS,
        readWaitMs: DEFAULT_REFRESH_READ_WAIT_MS,
        random: Math.random,
        owner: "bench",
        logger,
      });
      // As the app sets it up (server/app.ts): the default concurrency, a batch of DUE per tick.
      const scheduler = createRefreshScheduler({
        store,
        engine,
        now: Date.now,
        random: Math.random,
        logger,
        concurrency: DEFAULT_REFRESH_CONCURRENCY,
        batchSize: DUE,
      });
      const db = drizzle({ client });
      const dueIds: string[] = [];

      // NEXUS_BENCH_SCHEDULER_CPU_PROF=<dir>: a V8 CPU profile of the large population's ticks only
      // (not the bulk inserts), written there as scheduler-ticks.cpuprofile.
      const profileDir = process.env.NEXUS_BENCH_SCHEDULER_CPU_PROF;
      const measure = async (total: number, profile = false) => {
        const started = performance.now();
        const existing = countRows(client);
        insertConnections(db, vault, existing, total - existing, dueIds);
        context.progress(`scheduler: ${total} connections inserted in ${(performance.now() - started).toFixed(0)} ms; ${ticks} ticks`);
        const tickMs: number[] = [];
        const listMs: number[] = [];
        const cpuMs: number[] = [];
        const profiler = profile ? await startProfiler() : undefined;
        for (let i = 0; i < ticks; i += 1) {
          makeDue(db, dueIds);
          const listStarted = performance.now();
          const listed = await store.listDueRefreshes(Date.now(), DUE);
          listMs.push(performance.now() - listStarted);
          if (listed.length !== DUE) throw new Error(`expected ${DUE} due connections, listed ${listed.length}`);
          const cpuStarted = process.cpuUsage();
          const tickStarted = performance.now();
          const refreshed = await scheduler.runOnce();
          tickMs.push(performance.now() - tickStarted);
          cpuMs.push((process.cpuUsage(cpuStarted).user + process.cpuUsage(cpuStarted).system) / 1000);
          if (refreshed !== DUE) throw new Error(`expected a tick over ${DUE} due connections, got ${refreshed}`);
        }
        if (profiler && profileDir !== undefined) {
          const file = join(profileDir, "scheduler-ticks.cpuprofile");
          mkdirSync(profileDir, { recursive: true });
          writeFileSync(file, JSON.stringify(await profiler()));
          context.progress(`scheduler: ticks profiled in ${file}`);
        }
        const list = (values: number[]) => values.map((v) => v.toFixed(1)).join(" ");
        context.progress(`scheduler: ${total} connections: ticks ${list(tickMs)} ms (CPU ${list(cpuMs)} ms)`);
        return { tick: summarizeLatencies(tickMs).p50, list: summarizeLatencies(listMs).p50, tickCpu: summarizeLatencies(cpuMs).p50 };
      };

      const atSmall = await measure(small);
      const atLarge = await measure(large, profileDir !== undefined);
      const label = (n: number) => n.toLocaleString("en-US");
      const note = `median of ${ticks} ticks; SQLite (WAL, as the server opens it); baseline: the same with ${label(small)} connections`;
      const tickTarget: Target = {
        text: "<= 20 ms and ratio <= 1.5",
        check: (value, ratio) => value <= 20 && ratio !== null && ratio <= 1.5,
      };
      const figures: Figure[] = [
        makeFigure({
          name: `Scheduler tick: ${DUE} due among ${label(large)} connections`,
          value: atLarge.tick,
          unit: "ms",
          baseline: atSmall.tick,
          target: tickTarget,
          note,
        }),
        makeFigure({
          name: `Scheduler listDueRefreshes: ${DUE} due among ${label(large)}`,
          value: atLarge.list,
          unit: "ms",
          baseline: atSmall.list,
          note: "the query alone",
        }),
      ];
      return { figures, extra: { scheduler: { small, large, ticks, atSmall, atLarge } } };
    } finally {
      client.close();
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
};

/** Inserts `count` active OAuth connections (numbered from `start`) with sealed credentials; the first DUE become `dueIds`. */
function insertConnections(db: ReturnType<typeof drizzle>, vault: Vault, start: number, count: number, dueIds: string[]): void {
  const now = Date.now();
  const nowSeconds = Math.floor(now / 1000);
  db.transaction((tx) => {
    for (let offset = 0; offset < count; offset += INSERT_CHUNK) {
      const rows = [];
      const secrets = [];
      for (let i = offset; i < Math.min(count, offset + INSERT_CHUNK); i += 1) {
        const n = start + i;
        const id = `conn_bench_${n.toString().padStart(7, "0")}`;
        const isDue = dueIds.length < DUE;
        if (isDue) dueIds.push(id);
        // Not due: scheduled somewhere in the next hour, as a live population is.
        const expiresAt = isDue ? nowSeconds + 60 : nowSeconds + 3600 + Math.floor(Math.random() * 3600);
        rows.push({
          id,
          tenantId: BENCH_TENANT,
          userId: `user-${n}`,
          providerName: BENCH_PROVIDER,
          status: "active" as const,
          scopes: [],
          params: {},
          createdAt: now,
          updatedAt: now,
          credentialVersion: 1,
          credentialExpiresAt: expiresAt,
          nextRefreshAt: (expiresAt - 300) * 1000,
        });
        const sealed = vault.seal(
          encodeStoredSecret({
            kind: "oauth2",
            accessToken: `at-${n}`,
            tokenType: "Bearer",
            refreshToken: `rt-${n}`,
            expiresAtSeconds: expiresAt,
          }),
          credentialAad(id, 1),
        );
        secrets.push({
          connectionId: id,
          ciphertext: Buffer.from(sealed.ciphertext),
          keyId: sealed.keyId,
          version: 1,
          expiresAt,
          updatedAt: now,
        });
      }
      tx.insert(connections).values(rows).run();
      tx.insert(credentials).values(secrets).run();
    }
  });
}

/** Puts the due connections' next refresh in the past (and their tokens near expiry) again. */
function makeDue(db: ReturnType<typeof drizzle>, dueIds: string[]): void {
  db.update(connections)
    .set({ nextRefreshAt: Date.now() - 1000 })
    .where(inArray(connections.id, dueIds))
    .run();
}

/** Starts V8's sampling profiler in this process; the returned function stops it and gives the profile. */
async function startProfiler(): Promise<() => Promise<unknown>> {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 100 });
  await session.post("Profiler.start");
  return async () => {
    const { profile } = await session.post("Profiler.stop");
    session.disconnect();
    return profile;
  };
}

function countRows(client: Database.Database): number {
  return (client.prepare("SELECT count(*) AS n FROM connections").get() as { n: number }).n;
}
