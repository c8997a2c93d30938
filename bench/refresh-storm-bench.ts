/**
 * Figure 4b, the refresh storm: 10,000 connections whose access tokens expire within the same
 * minute (so all are due for refresh at once), in one `node server/main.ts` (SQLite, default
 * refresh settings), against a local token endpoint answering each refresh_token grant after
 * 100 ms. Measured: the time until every one has been refreshed (all must finish before the first
 * expiry), and the GetToken latency of another, valid connection during the storm against the same
 * calls once the storm is over (same process, same run): a read must not wait for the scheduler.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { drizzle } from "drizzle-orm/better-sqlite3";
import { createApiKeyManager } from "../server/auth/api-key-manager.ts";
import { DEFAULT_REFRESH_SKEW_MS } from "../server/config/defaults.ts";
import { credentialAad, encodeStoredSecret } from "../server/domain/stored-secret.ts";
import { connections, credentials } from "../server/store/sqlite/schema.ts";
import { createSqliteStore, SQLITE_FILE_NAME } from "../server/store/sqlite/store.ts";
import { parseKeyring } from "../server/vault/keyring.ts";
import { createVault, type Vault } from "../server/vault/vault.ts";
import type { Benchmark } from "./bench-context.ts";
import { benchServerEnv, createBenchSecrets } from "./bench-env.ts";
import { makeFigure } from "./figure.ts";
import { summarizeLatencies } from "./percentiles.ts";
import { BENCH_PROVIDER, BENCH_TENANT, seedConnections } from "./seed-connections.ts";
import { spawnServer } from "./server-process.ts";
import { startTokenEndpoint } from "./token-endpoint.ts";

const INSERT_CHUNK = 500;
/** GetToken callers running side by side (each one call at a time). */
const READERS = 4;

/** The refresh-storm benchmark. */
export const refreshStormBench: Benchmark = {
  name: "refresh-storm",
  tools: [],
  async run(context) {
    const count = context.quick ? 2_000 : 10_000;
    const secrets = createBenchSecrets();
    const dataDir = mkdtempSync(join(context.scratchDir, "refresh-storm-"));
    const endpoint = await startTokenEndpoint({ delayMs: 100 });
    try {
      const vault = createVault(parseKeyring(secrets.encryptionKeys));
      const store = await createSqliteStore({ dataDir, now: Date.now });
      // One connection valid for an hour (the reads), then the storm's population in bulk.
      const seeded = await seedConnections(
        { store, vault, apiKeys: createApiKeyManager({ store, now: Date.now }) },
        { count: 1, tokenEndpoint: endpoint.url, expiresInS: 3600, withRefreshToken: true },
      );
      await store.close();
      const client = new Database(join(dataDir, SQLITE_FILE_NAME));
      const firstExpiryS = insertStorm(drizzle({ client }), vault, count);
      client.close();
      context.progress(`refresh-storm: ${count} connections expiring within one minute; starting the server`);

      const server = spawnServer(benchServerEnv(secrets, { NEXUS_DATA_DIR: dataDir, NEXUS_LOG_LEVEL: "warn" }));
      try {
        const port = await server.listening;
        const started = performance.now();
        const url = `http://127.0.0.1:${port}/nexus.v1.TokenService/GetToken`;
        const init = {
          method: "POST",
          headers: { authorization: `Bearer ${seeded.agentKey}`, "content-type": "application/json" },
          body: JSON.stringify({ connectionId: seeded.connectionIds[0] }),
        };
        const call = async () => {
          const t = performance.now();
          const res = await fetch(url, init);
          await res.arrayBuffer();
          if (res.status !== 200) throw new Error(`GetToken answered ${res.status}`);
          return performance.now() - t;
        };
        // Reads during the storm: from listen until every refresh is done.
        const during: number[] = [];
        let stormOver = false;
        const readers = Array.from({ length: READERS }, async () => {
          while (!stormOver) during.push(await call());
        });
        const deadline = started + 240_000;
        let firstGrantMs: number | undefined;
        while (endpoint.refreshGrants() < count) {
          if (server.child.exitCode !== null) throw new Error("server exited during the storm");
          if (performance.now() > deadline) throw new Error(`only ${endpoint.refreshGrants()} of ${count} refreshed in 240 s`);
          if (firstGrantMs === undefined && endpoint.refreshGrants() > 0) firstGrantMs = performance.now();
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        const stormEnd = performance.now();
        stormOver = true;
        await Promise.all(readers);
        const stormMs = stormEnd - (firstGrantMs ?? started);
        // The same reads with nothing due.
        const idle: number[] = [];
        const idleCalls = Math.max(200, Math.min(during.length, 4_000));
        let left = idleCalls;
        await Promise.all(
          Array.from({ length: READERS }, async () => {
            while (left > 0) {
              left -= 1;
              idle.push(await call());
            }
          }),
        );
        const finishedBeforeExpiry = Date.now() / 1000 < firstExpiryS;
        const duringStats = summarizeLatencies(during);
        const idleStats = summarizeLatencies(idle);
        context.progress(
          `refresh-storm: ${count} refreshed in ${(stormMs / 1000).toFixed(1)} s (first expiry ${finishedBeforeExpiry ? "not reached" : "PASSED"}); GetToken p99 ${duringStats.p99.toFixed(1)} ms during (${during.length} calls) vs ${idleStats.p99.toFixed(1)} ms idle`,
        );
        const note = `one node server/main.ts, SQLite; provider answers after 100 ms; ${READERS} GetToken callers in a loop`;
        return {
          figures: [
            makeFigure({
              name: `Refresh storm: ${count.toLocaleString("en-US")} connections due at once, first to last provider call`,
              value: stormMs / 1000,
              unit: "s",
              target: { text: "all before the first expiry", check: () => finishedBeforeExpiry },
              note,
            }),
            makeFigure({
              name: "Refresh storm: GetToken p99 during the storm (baseline: after it)",
              value: duringStats.p99,
              unit: "ms",
              baseline: idleStats.p99,
              note,
            }),
            makeFigure({
              name: "Refresh storm: GetToken p50 during the storm (baseline: after it)",
              value: duringStats.p50,
              unit: "ms",
              baseline: idleStats.p50,
              note,
            }),
          ],
          extra: { refreshStorm: { count, stormMs, during: duringStats, idle: idleStats, grants: endpoint.refreshGrants() } },
        };
      } finally {
        await server.stop();
      }
    } finally {
      await endpoint.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
};

/**
 * Inserts `count` active OAuth connections whose tokens expire within one minute, 4–5 minutes from
 * now, so every one is due (inside the default 5-minute skew); returns the first expiry, epoch s.
 */
function insertStorm(db: ReturnType<typeof drizzle>, vault: Vault, count: number): number {
  const now = Date.now();
  const nowSeconds = Math.floor(now / 1000);
  const firstExpiry = nowSeconds + Math.floor(DEFAULT_REFRESH_SKEW_MS / 1000) - 60;
  db.transaction((tx) => {
    for (let offset = 0; offset < count; offset += INSERT_CHUNK) {
      const rows = [];
      const secrets = [];
      for (let i = offset; i < Math.min(count, offset + INSERT_CHUNK); i += 1) {
        const id = `conn_storm_${i.toString().padStart(7, "0")}`;
        const expiresAt = firstExpiry + Math.floor(Math.random() * 60);
        rows.push({
          id,
          tenantId: BENCH_TENANT,
          userId: `storm-${i}`,
          providerName: BENCH_PROVIDER,
          status: "active" as const,
          scopes: [],
          params: {},
          createdAt: now,
          updatedAt: now,
          credentialVersion: 1,
          credentialExpiresAt: expiresAt,
          nextRefreshAt: expiresAt * 1000 - DEFAULT_REFRESH_SKEW_MS,
        });
        const sealed = vault.seal(
          encodeStoredSecret({
            kind: "oauth2",
            accessToken: `at-${i}`,
            tokenType: "Bearer",
            refreshToken: `rt-${i}`,
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
  return firstExpiry;
}
