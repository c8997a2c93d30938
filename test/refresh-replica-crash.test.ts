/**
 * A replica killed with SIGKILL in the middle of refreshes (PostgreSQL only: replicas share the
 * database). Three connections are being refreshed by a spawned `node server/main.ts` while the
 * provider is slow (a gate in front of it holds the token requests; a request whose client died
 * never reaches the provider, as behind a proxy). After the kill: every connection still has its
 * refresh token and stays active, the dead replica's leases run out (5 s after its last renewal,
 * the engine's default), and the restarted replica serves tokens again with new versions; a watcher
 * whose stream died with the replica resumes on the new one without a duplicate.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Client as PgClient } from "pg";
import { TokenService } from "../gen/nexus/v1/tokens_pb.ts";
import { watchTyped } from "./support/credential-watchers.ts";
import { reportFigure, startRefreshRig, storedTokens, summarize } from "./support/refresh-rig.ts";
import { type ReplicaProcess, spawnReplica } from "./support/replica-process.ts";
import { TEST_STORE } from "./support/test-store.ts";
import { eventually } from "./support/wait.ts";

/** The replica part of a lease token ("<replica id>#<flight>"). */
const replicaOf = (owner: string | null) => owner?.split("#")[0] ?? null;

/** Lease owner and expiry of connections, read behind the server's back. */
async function leases(databaseUrl: string, ids: string[]): Promise<{ owner: string | null; expiresAtMs: number | null }[]> {
  const client = new PgClient({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string; lease_owner: string | null; lease_expires_at: string | null }>(
      "SELECT id, lease_owner, lease_expires_at FROM connections WHERE id = ANY($1)",
      [ids],
    );
    return ids.map((id) => {
      const row = rows.find((r) => r.id === id);
      return { owner: row?.lease_owner ?? null, expiresAtMs: row?.lease_expires_at == null ? null : Number(row.lease_expires_at) };
    });
  } finally {
    await client.end();
  }
}

describe("replica crash mid-refresh", {
  skip: TEST_STORE === "postgres" ? false : "PostgreSQL only: replicas share a database (NEXUS_TEST_STORE=postgres)",
}, () => {
  test("kill -9 during three in-flight refreshes: no refresh token lost, leases expire, the restarted replica resumes", async (t) => {
    const rig = await startRefreshRig({ rotate: true, accessTtlSeconds: 3 });
    const replicas: ReplicaProcess[] = [];
    try {
      const databaseUrl = rig.replicaEnv.DATABASE_URL!;
      const ids = [await rig.connect("crash-1"), await rig.connect("crash-2"), await rig.connect("crash-3")];
      const victim = await spawnReplica({ ...rig.replicaEnv });
      replicas.push(victim);
      const clientOf = (baseUrl: string) =>
        createClient(TokenService, createGrpcTransport({ baseUrl, interceptors: [rig.server.bearer()] }));
      // The watch keeps ids[0] fresh on its own (keep-fresh), so it is refreshed on schedule too.
      const watcher = watchTyped({ baseUrl: victim.baseUrl, apiKey: rig.server.agentKey }, ids[0]!);
      await watcher.next((e) => e.type === "credential");

      // One warmed-up client: the three refreshes must all reach the provider inside its 5 s
      // first-byte timeout, so no call pays for a new connection on a loaded machine.
      const victimClient = clientOf(victim.baseUrl);
      await victimClient.getToken({ connectionId: ids[1]! });
      // The provider turns slow; the victim starts refreshing all three and holds their leases. All
      // three must reach the provider inside its 5 s first-byte timeout: on a busy machine a try can
      // miss that window, so a missed try is released and tried again (bounded).
      let mark = 0;
      const held = () => rig.idp.tokenRequests.slice(mark).filter((r) => r.outcome === "pending").length;
      let heldLeases: Awaited<ReturnType<typeof leases>> = [];
      const allHeld = async () => {
        heldLeases = await leases(databaseUrl, ids);
        return held() === 3 && heldLeases.every((l) => l.owner !== null && replicaOf(l.owner) === replicaOf(heldLeases[0]!.owner));
      };
      for (let attempt = 1; ; attempt += 1) {
        rig.idp.tokenEndpoint.delayMs = 60_000;
        mark = rig.idp.tokenRequests.length;
        for (const connectionId of ids) victimClient.refreshConnection({ connectionId }).catch(() => undefined);
        try {
          await eventually(allHeld, 4_000, "three refreshes held at the provider under the victim's leases", 50);
          break;
        } catch (err) {
          const seen = `held ${held()}, lease owners ${JSON.stringify(heldLeases.map((l) => replicaOf(l.owner)))}`;
          if (attempt === 3) throw new Error(`${(err as Error).message} after 3 tries (${seen})`);
          t.diagnostic(`try ${attempt} missed the window (${seen}); releasing and trying again`);
          rig.idp.tokenEndpoint.delayMs = 0;
          await eventually(
            async () => held() === 0 && (await leases(databaseUrl, ids)).every((l) => l.owner === null),
            15_000,
            "the missed try released",
          );
        }
      }
      // The victim renews its short leases while the provider holds its requests.
      assert.ok(
        heldLeases.every((l) => l.expiresAtMs! > Date.now()),
        "the victim holds all three leases",
      );
      // Stable while every refresh is held: what must survive the crash.
      const before = await Promise.all(ids.map((id) => storedTokens(rig.server.app, id)));
      const heldFrom = rig.idp.tokenRequests.length;

      const killedAtMs = Date.now();
      assert.equal(await victim.kill("SIGKILL"), null, "killed by the signal");
      rig.idp.tokenEndpoint.delayMs = 0;
      assert.notEqual(await watcher.ended, null, "the victim's watch stream broke");
      await eventually(() => held() === 0, 2_000, "held requests dropped with their client");
      assert.ok(
        rig.idp.tokenRequests.slice(mark, heldFrom).every((r) => r.outcome === "dropped" || r.outcome === "issued"),
        "nothing was refused",
      );

      // Nothing lost: the same refresh token, or (once the dead lease ran out and the scheduler
      // retried the interrupted call) a newer version the provider issued; still active.
      for (const [i, id] of ids.entries()) {
        const now = await storedTokens(rig.server.app, id);
        if (now.version === before[i]!.version)
          assert.equal(now.tokens.refreshToken, before[i]!.tokens.refreshToken, "the refresh token survived the crash");
        else assert.ok(now.version > before[i]!.version);
        assert.equal((await rig.server.app.store.getConnection("default", id)).status, "active");
      }

      const restarted = await spawnReplica({ ...rig.replicaEnv });
      replicas.push(restarted);
      const restartedMs = Date.now() - killedAtMs;
      const client = clientOf(restarted.baseUrl);
      // Wait for the stored tokens to expire (the victim's jittered refreshes can start early in the
      // margin, leaving more than a restart's time): a valid token is served without a refresh.
      const expiredAtMs = Math.max(...before.map((b) => (b.tokens.expiresAtSeconds ?? 0) * 1000)) + 1;
      if (Date.now() < expiredAtMs) await new Promise((resolve) => setTimeout(resolve, expiredAtMs - Date.now()));
      // Each read is served after the dead lease ran out and a refresh.
      const served = await Promise.all(
        ids.map(async (connectionId) => {
          // A read of an expired token waits at most 2 s (NEXUS_REFRESH_READ_WAIT_MS), then answers
          // unavailable: ask again until the refresh after the dead lease is saved.
          let res;
          for (const deadline = Date.now() + 20_000; res === undefined; ) {
            res = await client.getToken({ connectionId }).catch((error: unknown) => {
              if (ConnectError.from(error).code !== Code.Unavailable || Date.now() > deadline) throw error;
              return undefined;
            });
          }
          const atMs = Date.now();
          return {
            version: Number(res.credential?.version),
            expiresAtMs: Number(res.credential?.expiresAt) * 1000,
            atMs,
            afterKillMs: atMs - killedAtMs,
          };
        }),
      );
      for (const [i, s] of served.entries()) {
        assert.ok(s.version > before[i]!.version, "a new version after the crash");
        assert.ok(s.expiresAtMs > s.atMs, "never the expired token");
        assert.ok(s.atMs >= heldLeases[i]!.expiresAtMs!, "not before the dead replica's lease ran out");
      }
      const latestLeases = await leases(databaseUrl, ids);
      assert.ok(
        latestLeases.every((l) => replicaOf(l.owner) !== replicaOf(heldLeases[0]!.owner)),
        "no lease left with the dead replica",
      );
      const failures = rig.idp.tokenRequests.filter((r) => r.outcome === "error");
      assert.deepEqual(failures, [], "no refresh was refused (no refresh token was reused or lost)");
      for (const id of ids) assert.equal((await rig.server.app.store.getConnection("default", id)).status, "active");

      // The watcher whose stream died resumes on the restarted replica, from what it had.
      const lastSeen = watcher.versions().at(-1)!;
      const resumed = watchTyped({ baseUrl: restarted.baseUrl, apiKey: rig.server.agentKey }, ids[0]!, lastSeen);
      const next = await resumed.next((e) => e.type === "credential", 3_000);
      assert.ok(next.version! > lastSeen, "the version missed while the replica was down, at once");
      resumed.stop();
      assert.doesNotMatch(restarted.output(), /"level":(50|60)/, "the restarted replica logged no error");

      reportFigure(t, "replica kill -9", {
        leaseLeftAtKillMs: heldLeases[0]!.expiresAtMs! - killedAtMs,
        restartMs: restartedMs,
        killToTokenMs: summarize(served.map((s) => s.afterKillMs)),
      });
    } finally {
      rig.idp.tokenEndpoint.delayMs = 0;
      await Promise.all(replicas.map((r) => r.stop()));
      await rig.close();
    }
  });
});
