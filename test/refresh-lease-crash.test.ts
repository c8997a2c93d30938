/**
 * Replicas that die while refreshing rotating refresh tokens (PostgreSQL only: replicas share the
 * database). The provider rotates on every use, accepts the previous token within a reuse window
 * and revokes the grant when a used token comes back later; it holds its answers after rotating,
 * so a replica killed meanwhile loses the new refresh token. Checked: kill -9 in a loop loses no
 * grant (the short lease is taken over in seconds and the retry lands inside the window) and reads
 * never wait on the dead holder; without a window the loss is reported as refresh_lost_in_crash;
 * SIGTERM lets in-flight refreshes finish and save before the process exits.
 */
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { describe, test } from "node:test";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { TokenService } from "../gen/nexus/v1/tokens_pb.ts";
import { DEFAULT_REFRESH_LEASE_MS } from "../server/config/defaults.ts";
import { createPostgresStore } from "../server/store/postgres/store.ts";
import { generateKeyringText } from "../server/vault/keyring.ts";
import { reportFigure, storedTokens, summarize } from "./support/refresh-rig.ts";
import { type ReplicaProcess, spawnReplica } from "./support/replica-process.ts";
import {
  type RotatingProvider,
  registerRotatingProvider,
  seedRotatingConnection,
  startRotatingProvider,
} from "./support/rotating-provider.ts";
import { startServer, type TestServer } from "./support/start-server.ts";
import { TEST_STORE } from "./support/test-store.ts";
import { eventually } from "./support/wait.ts";

/** The lease time under test: the default (server/config/defaults.ts). */
const LEASE_MS = DEFAULT_REFRESH_LEASE_MS;
const PROVIDER = "rotating-idp";

/** An in-process server (never killed) on a fresh database, the provider registered, and replica env. */
async function startSetup(reuseWindowSeconds: number, accessTtlSeconds: number) {
  const provider = await startRotatingProvider({ reuseWindowMs: reuseWindowSeconds * 1000, accessTtlSeconds });
  const env = { NEXUS_REFRESH_SKEW_MS: "1000", NEXUS_ENCRYPTION_KEYS: generateKeyringText("k1") };
  const server = await startServer({ env });
  await registerRotatingProvider(server.app, PROVIDER, provider, reuseWindowSeconds);
  const replicaEnv = { ...env, DATABASE_URL: server.storeEnv.DATABASE_URL!, NEXUS_ADMIN_API_KEY: server.adminKey };
  const replicas: ReplicaProcess[] = [];
  return {
    provider,
    server,
    replicas,
    spawn: async (more: Record<string, string> = {}) => {
      const replica = await spawnReplica({ ...replicaEnv, ...more });
      replicas.push(replica);
      return replica;
    },
    tokensOf: (baseUrl: string) => createClient(TokenService, createGrpcTransport({ baseUrl, interceptors: [server.bearer()] })),
    async close() {
      provider.holdMs = 0;
      await Promise.all(replicas.map((r) => r.stop()));
      await server.close();
      await provider.close();
    },
  };
}

/** Versions and statuses of `ids`, read behind the servers' backs. */
async function snapshot(server: TestServer, ids: string[]) {
  return Promise.all(
    ids.map(async (id) => ({
      version: (await storedTokens(server.app, id)).version,
      status: (await server.app.store.getConnection("default", id)).status,
      reason: (await server.app.store.getConnection("default", id)).statusReason,
    })),
  );
}

/** Forces a refresh of every connection on `replica` and waits until the provider holds `atLeast` rotated answers. */
async function refreshAndHold(
  setup: { provider: RotatingProvider; tokensOf: (u: string) => Client<typeof TokenService> },
  replica: ReplicaProcess,
  ids: string[],
  atLeast: number,
) {
  // Longer than the time to the kill, shorter than the 5 s first-byte timeout of a live replica.
  setup.provider.holdMs = 3_000;
  const client = setup.tokensOf(replica.baseUrl);
  for (const connectionId of ids) client.refreshConnection({ connectionId }).catch(() => undefined);
  await eventually(
    async () => setup.provider.stats.held >= atLeast,
    15_000,
    `the provider holds ${atLeast} rotated answers for the victim`,
    50,
  );
}

function report(t: TestContext, name: string, value: unknown) {
  reportFigure(t, name, value);
}

describe("refresh leases across replica crashes", {
  skip: TEST_STORE === "postgres" ? false : "PostgreSQL only: replicas share a database (NEXUS_TEST_STORE=postgres)",
}, () => {
  test("kill -9 mid-refresh in a loop: no grant lost (retry inside the reuse window), reads never wait on the dead holder", async (t) => {
    const ROUNDS = 3;
    const CONNECTIONS = 8;
    const setup = await startSetup(30, 6);
    const { provider, server } = setup;
    const reads: { ms: number; code: string }[] = [];
    let isReading = true;
    try {
      const ids: string[] = [];
      for (let i = 0; i < CONNECTIONS; i += 1) ids.push(await seedRotatingConnection(server.app, PROVIDER, provider.newGrant(), 6));
      await Promise.all([setup.spawn(), setup.spawn(), setup.spawn()]);
      // Agents keep reading every connection from the replica that never dies.
      const reader = setup.tokensOf(server.baseUrl);
      const readLoop = (async () => {
        for (let i = 0; isReading; i += 1) {
          const startedMs = Date.now();
          try {
            await reader.getToken({ connectionId: ids[i % ids.length]! });
            reads.push({ ms: Date.now() - startedMs, code: "ok" });
          } catch (error) {
            reads.push({ ms: Date.now() - startedMs, code: Code[ConnectError.from(error).code] });
          }
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();

      const takeoverMs: number[] = [];
      for (let round = 0; round < ROUNDS; round += 1) {
        const victim = setup.replicas[0]!;
        await refreshAndHold(setup, victim, ids, 2);
        const before = await snapshot(server, ids);
        const killedAtMs = Date.now();
        assert.equal(await victim.kill("SIGKILL"), null, "killed by the signal");
        provider.holdMs = 0;
        // Every connection moves past its version at the kill, still active: the rotated tokens the
        // victim never saved were replaced by retries with the last saved token, inside the window.
        await eventually(
          async () => (await snapshot(server, ids)).every((s, i) => s.status !== "active" || s.version > before[i]!.version),
          30_000,
          "every connection refreshed again after the kill",
          50,
        );
        takeoverMs.push(Date.now() - killedAtMs);
        setup.replicas.splice(setup.replicas.indexOf(victim), 1);
        await setup.spawn();
      }
      isReading = false;
      await readLoop;

      const final = await snapshot(server, ids);
      assert.ok(provider.stats.reused >= 1, "refresh tokens the victims had used were reused inside the window");
      assert.deepEqual(
        final.filter((s) => s.status !== "active"),
        [],
        "no connection lost its grant",
      );
      assert.equal(provider.stats.grantsRevoked, 0, "the provider revoked no grant");
      assert.equal(provider.stats.refused, 0, "the provider refused no refresh");
      const unexpected = reads.filter((r) => r.code !== "ok" && r.code !== "Unavailable");
      assert.deepEqual(unexpected, [], "reads answer a token or unavailable, never a dead grant");
      // Generous bound (loaded machine): one short lease, where the old 30 s lease made reads wait ~29 s.
      const slowest = Math.max(...reads.map((r) => r.ms));
      assert.ok(slowest <= LEASE_MS + 3_000, `the slowest read took ${slowest} ms`);
      report(t, "kill -9 loop", {
        rounds: ROUNDS,
        connections: CONNECTIONS,
        grantsLost: final.filter((s) => s.status !== "active").length,
        reusedInWindow: provider.stats.reused,
        killToAllRefreshedMs: summarize(takeoverMs),
        reads: reads.length,
        readsUnavailable: reads.filter((r) => r.code === "Unavailable").length,
        readMs: summarize(reads.map((r) => r.ms)),
      });
    } finally {
      isReading = false;
      await setup.close();
    }
  });

  test("without a reuse window, the grant lost with the dead holder is reported as refresh_lost_in_crash", async (t) => {
    const setup = await startSetup(0, 3600);
    const { provider, server } = setup;
    try {
      const ids = [await seedRotatingConnection(server.app, PROVIDER, provider.newGrant(), 3600)];
      const victim = await setup.spawn();
      await refreshAndHold(setup, victim, ids, 1);
      const killedAtMs = Date.now();
      await victim.kill("SIGKILL");
      provider.holdMs = 0;
      // The token is far from expiry and nobody reads it: the scheduler retries as soon as the lease ran out.
      await eventually(async () => (await snapshot(server, ids))[0]!.status !== "active", 30_000, "the retry after the crash", 50);
      const [after] = await snapshot(server, ids);
      assert.equal(after!.status, "attention_required");
      assert.equal(after!.reason, "refresh_lost_in_crash");
      assert.equal(provider.stats.grantsRevoked, 1);
      report(t, "crash without reuse window", { killToAttentionMs: Date.now() - killedAtMs, reason: after!.reason });
    } finally {
      await setup.close();
    }
  });

  test("SIGTERM mid-refresh: the refresh finishes and is saved before the process exits", async (t) => {
    const setup = await startSetup(0, 3600);
    const { provider, server } = setup;
    try {
      const refreshToken = provider.newGrant();
      // With a long skew the margin is half the token's life (token-freshness.ts). The token is saved
      // through a store whose clock runs 10 s behind: it lived 18 s, has 8 s left and is inside its
      // 9 s margin from the start (no waiting for it to age), so a read answers at once from the
      // store and leaves the refresh running in the background, where only the engine's drain (no
      // request) keeps it alive.
      const replica = await setup.spawn({ NEXUS_REFRESH_SKEW_MS: "60000" });
      const client = setup.tokensOf(replica.baseUrl);
      const backdated = await createPostgresStore({
        connectionString: server.storeEnv.DATABASE_URL!,
        poolMax: 1,
        now: () => Date.now() - 10_000,
      });
      const id = await seedRotatingConnection({ store: backdated, vault: server.app.vault }, PROVIDER, refreshToken, 8).finally(() =>
        backdated.close(),
      );
      provider.holdMs = 1_500;
      const read = await client.getToken({ connectionId: id });
      assert.equal(Number(read.credential?.version), 1, "answered from the store");
      await eventually(async () => provider.stats.held >= 1, 15_000, "the provider holds the rotated answer", 50);
      const termAtMs = Date.now();
      assert.equal(await replica.kill("SIGTERM"), 0, "a clean exit");
      const exitMs = Date.now() - termAtMs;
      const saved = await storedTokens(server.app, id);
      assert.equal(saved.version, 2, "the refresh in flight at SIGTERM was saved");
      assert.notEqual(saved.tokens.refreshToken, refreshToken, "with the rotated refresh token");
      // The saved token works (no reuse window here: a lost token would revoke the grant).
      const next = await setup.tokensOf(server.baseUrl).refreshConnection({ connectionId: id });
      assert.equal(Number(next.credential?.version), 3);
      assert.equal(provider.stats.grantsRevoked, 0);
      assert.doesNotMatch(replica.output(), /"level":(50|60)/, "no error logged on the way out");
      report(t, "SIGTERM mid-refresh", { exitAfterSigtermMs: exitMs, saved: true });
    } finally {
      await setup.close();
    }
  });
});
