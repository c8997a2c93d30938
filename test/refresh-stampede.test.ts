/**
 * Single flight under a stampede: 200 GetToken calls at once on a token about to expire make exactly
 * one refresh_token request at the real provider (counted there); each call is answered at once with
 * the still-valid token or, once saved, the one new version, and the rotated refresh token is stored —
 * within one server (test backend), and across three server processes sharing one PostgreSQL
 * database (PostgreSQL only: SQLite is one process's file), with the calls spread over all three.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { TokenService } from "../gen/nexus/v1/tokens_pb.ts";
import { type RefreshRig, reportFigure, startRefreshRig, storedTokens, summarize, untilExpiring } from "./support/refresh-rig.ts";
import { type ReplicaProcess, spawnReplica } from "./support/replica-process.ts";
import { TEST_STORE } from "./support/test-store.ts";
import { eventually } from "./support/wait.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/refresh-stampede.test.ts", () => {
  const CALLS = 200;

  let rig: RefreshRig;
  before(async () => {
    rig = await startRefreshRig({ rotate: true, accessTtlSeconds: 3 });
  });
  after(() => rig?.close());

  /** `CALLS` GetToken calls in flight together, round-robin over `clients`; each call's latency. */
  async function stampede(clients: Client<typeof TokenService>[], connectionId: string) {
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: CALLS }, async (_, i) => {
        const res = await clients[i % clients.length]!.getToken({ connectionId });
        return {
          version: Number(res.credential?.version),
          accessToken: String(res.credential?.credentials?.access_token),
          ms: Date.now() - started,
        };
      }),
    );
    return { results, startedAtMs: started, wallMs: Date.now() - started };
  }

  /** Connects, waits until the token is inside the refresh skew, and returns the id and the token-request mark. */
  async function expiringConnection(userId: string): Promise<{ connectionId: string; mark: number; before: string | undefined }> {
    const connectionId = await rig.connect(userId);
    const first = await rig.tokens.getToken({ connectionId });
    assert.equal(Number(first.credential?.version), 1);
    const { tokens } = await storedTokens(rig.server.app, connectionId);
    await untilExpiring(Number(first.credential?.expiresAt));
    return { connectionId, mark: rig.idp.tokenRequests.length, before: tokens.refreshToken };
  }

  /** One refresh at the provider, every caller got a valid token (the stored one, or v2 once saved). */
  async function assertOneRefresh(
    connectionId: string,
    mark: number,
    previousRefreshToken: string | undefined,
    outcome: Awaited<ReturnType<typeof stampede>>,
  ) {
    // The refresh runs behind the reads: wait for it to be saved.
    await eventually(
      async () => (await storedTokens(rig.server.app, connectionId)).version >= 2,
      15_000,
      "the background refresh saved",
      20,
    );
    const calls = rig.refreshRequests(mark);
    assert.equal(calls.length, 1, `exactly one refresh_token request reached the provider (got ${calls.length})`);
    assert.equal(calls[0]!.outcome, "issued");
    assert.ok(
      outcome.results.every((r) => r.version === 1 || (r.version === 2 && r.accessToken === calls[0]!.accessToken)),
      "callers got v1 or v2, the token the provider issued",
    );
    const { version, tokens } = await storedTokens(rig.server.app, connectionId);
    assert.equal(version, 2);
    assert.ok(tokens.refreshToken && tokens.refreshToken !== previousRefreshToken, "the rotated refresh token was stored");
    // When the one refresh reached the provider (after the stampede began), and how long it took there.
    return {
      providerCalls: calls.length,
      providerReachedAtMs: calls[0]!.receivedAtMs - outcome.startedAtMs,
      providerMs: calls[0]!.answeredAtMs! - calls[0]!.receivedAtMs,
    };
  }

  test(`${CALLS} concurrent GetToken on an expiring token → one refresh at the provider`, async (t) => {
    const { connectionId, mark, before } = await expiringConnection("stampede-1");
    const outcome = await stampede([rig.tokens], connectionId);
    const provider = await assertOneRefresh(connectionId, mark, before, outcome);
    reportFigure(t, "stampede, 1 server", {
      calls: CALLS,
      ...provider,
      wallMs: outcome.wallMs,
      perCallMs: summarize(outcome.results.map((r) => r.ms)),
    });
  });

  describe("three server processes on one PostgreSQL database", {
    skip: TEST_STORE === "postgres" ? false : "PostgreSQL only: replicas share a database (NEXUS_TEST_STORE=postgres)",
  }, () => {
    let replicas: ReplicaProcess[] = [];
    before(async () => {
      const started = await Promise.allSettled([1, 2, 3].map(() => spawnReplica({ ...rig.replicaEnv })));
      replicas = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
      const failed = started.find((s) => s.status === "rejected");
      if (failed) throw failed.reason;
    });
    after(() => Promise.all(replicas.map((r) => r.stop())));

    test(`${CALLS} concurrent GetToken spread over 3 processes → one refresh at the provider`, async (t) => {
      assert.equal(new Set(replicas.map((r) => r.baseUrl)).size, 3, "three processes on distinct ports");
      const clients = replicas.map((r) =>
        createClient(TokenService, createGrpcTransport({ baseUrl: r.baseUrl, interceptors: [rig.server.bearer()] })),
      );
      const { connectionId, mark, before } = await expiringConnection("stampede-3");
      const outcome = await stampede(clients, connectionId);
      const provider = await assertOneRefresh(connectionId, mark, before, outcome);
      reportFigure(t, "stampede, 3 processes", {
        calls: CALLS,
        ...provider,
        wallMs: outcome.wallMs,
        perCallMs: summarize(outcome.results.map((r) => r.ms)),
      });
      for (const replica of replicas) assert.doesNotMatch(replica.output(), /"level":(50|60)/, "no replica logged an error");
    });
  });
});
