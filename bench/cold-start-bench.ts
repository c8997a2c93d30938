/**
 * Figure 5, cold start: from spawning `node server/main.ts` (existing data directory, migrations
 * already applied, as on a restart) to the first 200 from GET /healthz, and to the first
 * authenticated GetToken. Baseline: a bare `node -e` HTTP server, spawn to first response.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createApiKeyManager } from "../server/auth/api-key-manager.ts";
import { createSqliteStore } from "../server/store/sqlite/store.ts";
import { parseKeyring } from "../server/vault/keyring.ts";
import { createVault } from "../server/vault/vault.ts";
import type { Benchmark } from "./bench-context.ts";
import { benchServerEnv, createBenchSecrets } from "./bench-env.ts";
import { makeFigure, TARGETS } from "./figure.ts";
import { summarizeLatencies } from "./percentiles.ts";
import { seedConnections } from "./seed-connections.ts";
import { spawnServer } from "./server-process.ts";

const POLL_MS = 5;
const GIVE_UP_MS = 30_000;

/** The cold-start benchmark. */
export const coldStartBench: Benchmark = {
  name: "cold-start",
  tools: [],
  async run(context) {
    const runs = context.quick ? 2 : 5;
    const secrets = createBenchSecrets();
    const dataDir = mkdtempSync(join(context.scratchDir, "cold-start-"));
    try {
      const store = await createSqliteStore({ dataDir, now: Date.now });
      const seeded = await seedConnections(
        { store, vault: createVault(parseKeyring(secrets.encryptionKeys)), apiKeys: createApiKeyManager({ store, now: Date.now }) },
        { count: 1, tokenEndpoint: "http://127.0.0.1:9/token", expiresInS: 3600, withRefreshToken: false },
      );
      await store.close();
      const getToken = {
        method: "POST",
        headers: { authorization: `Bearer ${seeded.agentKey}`, "content-type": "application/json" },
        body: JSON.stringify({ connectionId: seeded.connectionIds[0] }),
      };
      // Three ways, interleaved in each round so they see the same machine: Node's compile cache off
      // (NEXUS_COMPILE_CACHE_DIR=off, as before it existed), cold (an empty cache directory: the
      // first start after an install or upgrade, which also writes the cache), warm (a cache a
      // previous start wrote: every restart after).
      const samples = {
        off: { health: [] as number[], token: [] as number[] },
        cold: { health: [] as number[], token: [] as number[] },
        warm: { health: [] as number[], token: [] as number[] },
      };
      const bareMs: number[] = [];
      const warmCache = join(dataDir, "warm-compile-cache");
      const startOnce = async (cacheDir: string, into?: { health: number[]; token: number[] }) => {
        const port = await freePort();
        const base = `http://127.0.0.1:${port}`;
        const started = performance.now();
        const server = spawnServer(
          benchServerEnv(secrets, { NEXUS_DATA_DIR: dataDir, PORT: String(port), NEXUS_COMPILE_CACHE_DIR: cacheDir }),
        );
        try {
          await pollUntilOk(`${base}/healthz`, {}, () => server.child.exitCode !== null);
          const health = performance.now() - started;
          await pollUntilOk(`${base}/nexus.v1.TokenService/GetToken`, getToken, () => server.child.exitCode !== null);
          into?.health.push(health);
          into?.token.push(performance.now() - started);
        } finally {
          await server.stop();
        }
      };
      await startOnce(warmCache); // primes the warm cache (and the page cache for every mode)
      for (let i = 0; i < runs; i += 1) {
        await startOnce("off", samples.off);
        await startOnce(mkdtempSync(join(context.scratchDir, "compile-cache-")), samples.cold);
        await startOnce(warmCache, samples.warm);
        bareMs.push(await bareStart());
      }
      const median = (values: number[]) => summarizeLatencies(values).p50;
      const healthMs = samples.warm.health;
      const tokenMs = samples.warm.token;
      context.progress(
        `cold start /healthz: warm cache ${median(healthMs).toFixed(0)} ms, empty cache ${median(samples.cold.health).toFixed(0)} ms, cache off ${median(samples.off.health).toFixed(0)} ms; GetToken warm ${median(tokenMs).toFixed(0)} ms; bare ${median(bareMs).toFixed(0)} ms`,
      );
      const note = `median of ${runs} starts; baseline: bare node -e http server, spawn to first response`;
      return {
        figures: [
          makeFigure({
            name: "Cold start: spawn to first /healthz 200 (compile cache present)",
            value: median(healthMs),
            unit: "ms",
            baseline: median(bareMs),
            target: TARGETS.atMost(500, "ms"),
            note,
          }),
          makeFigure({
            name: "Cold start: spawn to first /healthz 200 (empty compile cache)",
            value: median(samples.cold.health),
            unit: "ms",
            baseline: median(bareMs),
            target: TARGETS.atMost(500, "ms"),
            note,
          }),
          makeFigure({
            name: "Cold start: spawn to first /healthz 200 (compile cache off)",
            value: median(samples.off.health),
            unit: "ms",
            baseline: median(bareMs),
            note,
          }),
          makeFigure({
            name: "Cold start: spawn to first authenticated GetToken (compile cache present)",
            value: median(tokenMs),
            unit: "ms",
            baseline: median(bareMs),
            note,
          }),
        ],
        extra: { coldStart: { runs, samples, bareMs } },
      };
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
};

/** Spawn to first response of a bare node:http server, ms. */
async function bareStart(): Promise<number> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, ["-e", `require("node:http").createServer((q, s) => s.end("ok")).listen(${port}, "127.0.0.1")`], {
    stdio: "ignore",
  });
  try {
    await pollUntilOk(`http://127.0.0.1:${port}/`, {}, () => child.exitCode !== null);
    return performance.now() - started;
  } finally {
    child.kill("SIGKILL");
  }
}

/** Retries `url` every POLL_MS until it answers 200; rejects when `hasDied()` or after GIVE_UP_MS. */
async function pollUntilOk(url: string, init: RequestInit, hasDied: () => boolean): Promise<void> {
  const deadline = performance.now() + GIVE_UP_MS;
  let last = "";
  while (performance.now() < deadline) {
    if (hasDied()) throw new Error(`server exited while polling ${url}`);
    try {
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await sleep(POLL_MS);
  }
  throw new Error(`${url} did not answer 200 within ${GIVE_UP_MS} ms (last: ${last})`);
}

/** A port free right now on loopback. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}
