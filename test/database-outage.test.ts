/**
 * A PostgreSQL outage under three replicas (PostgreSQL only). Each replica is a real process that
 * reaches the shared server through a TCP proxy; the outage terminates the replicas' backends
 * (57P01, as a server shutdown does), cuts every proxied socket and refuses new connections, while
 * agents keep calling. The shared PostgreSQL itself is never stopped. Under the outage: no replica
 * exits, every call answers Unavailable (never Internal), /readyz says 503. After restore: LISTEN
 * reconnects and a watcher opened before the outage on each replica receives a version written
 * elsewhere, and the audit log holds a row for every credential handed out. A second test stages a
 * silent network partition instead (the proxy black-holes: no reset, no FIN): calls still answer
 * Unavailable after the query timeout instead of hanging, a replica stopped during it exits, and
 * after the partition heals the watcher is served again.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Client as PgClient } from "pg";
import { ErrorInfoSchema, ErrorReason } from "../gen/nexus/v1/errors_pb.ts";
import { TokenService } from "../gen/nexus/v1/tokens_pb.ts";
import { type CredentialWatcher, connectCode, watchTyped } from "./support/credential-watchers.ts";
import { reportFigure, sleep, startRefreshRig } from "./support/refresh-rig.ts";
import { type ReplicaProcess, spawnReplica } from "./support/replica-process.ts";
import { startTcpProxy, type TcpProxy } from "./support/tcp-proxy.ts";
import { TEST_STORE } from "./support/test-store.ts";
import { eventually, within } from "./support/wait.ts";

type Phase = "before" | "outage" | "after";
interface Call {
  replica: number;
  started: Phase;
  ended: Phase;
  code: string;
  reason?: ErrorReason;
}

/** Runs `use` with a client on `url`, not through the proxy. */
async function withDatabase<T>(url: string, use: (client: PgClient) => Promise<T>): Promise<T> {
  const client = new PgClient({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** A counter or gauge without labels from a replica's /metrics text. */
async function scrape(baseUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  assert.ok(line, `${name} is exported`);
  return Number(line.slice(name.length + 1));
}

function tally(calls: Call[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of calls) out[c.code] = (out[c.code] ?? 0) + 1;
  return out;
}

describe("database outage", {
  skip: TEST_STORE === "postgres" ? false : "PostgreSQL only: replicas share a database (NEXUS_TEST_STORE=postgres)",
}, () => {
  test("three replicas: no exit, Unavailable during the outage, LISTEN back and watchers served after, every credential audited", {
    timeout: 240_000,
  }, async (t) => {
    // Hour-long tokens: nothing refreshes on its own, so the only new version is the one written after restore.
    const rig = await startRefreshRig({ rotate: true, accessTtlSeconds: 3600 });
    const databaseUrl = rig.replicaEnv.DATABASE_URL!;
    const target = new URL(databaseUrl);
    const databaseName = target.pathname.slice(1);
    const proxy: TcpProxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const replicas: ReplicaProcess[] = [];
    const watchers: CredentialWatcher[] = [];
    let stopLoad = false;
    try {
      const connectionId = await rig.connect("outage-1");
      for (let i = 0; i < 3; i += 1) replicas.push(await spawnReplica({ ...rig.replicaEnv, DATABASE_URL: proxy.rewrite(databaseUrl) }));
      for (const replica of replicas) watchers.push(watchTyped({ baseUrl: replica.baseUrl, apiKey: rig.server.agentKey }, connectionId));
      await Promise.all(watchers.map((w) => w.next((e) => e.type === "credential", 30_000)));

      // Agents keep reading tokens from every replica throughout (about 30 calls/s each, bounded).
      let phase: Phase = "before";
      const calls: Call[] = [];
      const load = replicas.map(async (replica, i) => {
        const client = createClient(TokenService, createGrpcTransport({ baseUrl: replica.baseUrl, interceptors: [rig.server.bearer()] }));
        while (!stopLoad) {
          const started = phase;
          try {
            await client.getToken({ connectionId }, { timeoutMs: 30_000 });
            calls.push({ replica: i, started, ended: phase, code: "ok" });
          } catch (error) {
            const err = ConnectError.from(error);
            calls.push({
              replica: i,
              started,
              ended: phase,
              code: connectCode(err.code),
              reason: err.findDetails(ErrorInfoSchema)[0]?.reason,
            });
          }
          await sleep(30);
        }
      });
      const countOf = (i: number, code: string, started: Phase, ended = started) =>
        calls.filter((c) => c.replica === i && c.code === code && c.started === started && c.ended === ended).length;
      await eventually(() => replicas.every((_, i) => countOf(i, "ok", "before") >= 5), 30_000, "tokens served before the outage", 50);

      // The outage: the replicas' backends are terminated (57P01), every proxied socket cut, new ones refused.
      const outputMarks = replicas.map((r) => r.output().length);
      await proxy.outage(async (upstreamPorts) => {
        await withDatabase(databaseUrl, (client) =>
          client.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND client_port = ANY($2::int[])", [
            databaseName,
            upstreamPorts,
          ]),
        );
      });
      // From here on nothing reaches the database: a call started now must not succeed.
      phase = "outage";
      const outageStartMs = Date.now();
      const listenFailures = (i: number) => replicas[i]!.output().slice(outputMarks[i]).split("LISTEN reconnect failed").length - 1;
      // Long enough for the LISTEN backoff to reach its cap and for every replica to refuse plenty of calls.
      await eventually(
        () => replicas.every((_, i) => countOf(i, "unavailable", "outage") >= 10 && listenFailures(i) >= 4),
        60_000,
        "the outage to be felt",
        50,
      );
      const probes = await Promise.all(
        replicas.map(async (replica) => {
          const rest = await fetch(`${replica.baseUrl}/v1/token/${connectionId}`, { headers: rig.server.auth() });
          const ready = await fetch(`${replica.baseUrl}/readyz`);
          return { rest: rest.status, restBody: (await rest.json()) as { code?: string }, ready: ready.status };
        }),
      );
      const duringOutage = replicas.map((_, i) => tally(calls.filter((c) => c.replica === i && c.started === "outage")));

      const restoredAtMs = Date.now();
      reportFigure(t, "database outage, duration (ms)", restoredAtMs - outageStartMs);
      phase = "after";
      await proxy.restore();
      // A new version written by another server (the rig's, straight to the database): each replica
      // hears of it only through LISTEN/NOTIFY or the resync after its LISTEN connection returns.
      const refreshed = await rig.tokens.refreshConnection({ connectionId });
      const version = Number(refreshed.credential!.version);
      const heard = await Promise.all(watchers.map((w) => w.next((e) => e.type === "credential" && e.version! >= version, 60_000)));
      await eventually(() => replicas.every((_, i) => countOf(i, "ok", "after") >= 3), 60_000, "tokens served after restore", 50);
      stopLoad = true;
      await Promise.all(load);

      // Every credential handed out has its audit row once the buffers drain.
      const handedOut = calls.filter((c) => c.code === "ok").length;
      const delivered = watchers.reduce((n, w) => n + w.versions().length, 0);
      const refused = calls.filter((c) => c.code === "unavailable").length;
      let rows = { reads: 0, deliveries: 0, refusals: 0 };
      const readRows = () =>
        withDatabase(databaseUrl, async (client) => {
          const { rows: counts } = await client.query<{ action: string; result: string; n: string }>(
            "SELECT action, result, count(*) AS n FROM audit_events WHERE connection_id = $1 AND action IN ('token.read', 'token.deliver') GROUP BY action, result",
            [connectionId],
          );
          const n = (action: string, result: string) => Number(counts.find((c) => c.action === action && c.result === result)?.n ?? 0);
          rows = { reads: n("token.read", "ok"), deliveries: n("token.deliver", "ok"), refusals: n("token.read", "unavailable") };
          return rows.reads >= handedOut && rows.deliveries >= delivered && rows.refusals >= refused;
        });
      await eventually(readRows, 30_000, "audit rows for every credential handed out", 50).catch(() => undefined);

      const auditMetrics = await Promise.all(
        replicas.map(async (r) => ({
          writeFailures: await scrape(r.baseUrl, "nexus_audit_write_failures_total"),
          dropped: await scrape(r.baseUrl, "nexus_audit_dropped_total"),
          depth: await scrape(r.baseUrl, "nexus_audit_buffer_depth"),
        })),
      );
      reportFigure(t, "database outage, audit metrics per replica", auditMetrics);
      reportFigure(t, "database outage, codes of calls started during it, per replica", duringOutage);
      reportFigure(t, "database outage, all calls", tally(calls));
      reportFigure(
        t,
        "database outage, restore to watcher served (ms)",
        heard.map((e) => e.atMs - restoredAtMs),
      );
      reportFigure(t, "database outage, audit", {
        handedOut,
        rows: rows.reads,
        delivered,
        deliveryRows: rows.deliveries,
        refused,
        refusalRows: rows.refusals,
      });

      assert.deepEqual(
        replicas.map((r) => r.hasExited()),
        [false, false, false],
        "no replica exited",
      );
      for (const r of replicas) assert.doesNotMatch(r.output(), /Unhandled|uncaught/i);
      assert.deepEqual(
        new Set(calls.map((c) => c.code)),
        new Set(["ok", "unavailable"]),
        `only ok and unavailable: ${JSON.stringify(tally(calls))}`,
      );
      for (const [i, codes] of duringOutage.entries()) {
        const inside = calls.filter((c) => c.replica === i && c.started === "outage" && c.ended === "outage");
        assert.ok(
          inside.length >= 10 && inside.every((c) => c.code === "unavailable"),
          `replica ${i}: every call inside the outage unavailable (${JSON.stringify(codes)})`,
        );
        assert.ok(
          inside.every((c) => c.reason === ErrorReason.STORE_UNAVAILABLE),
          "with reason STORE_UNAVAILABLE",
        );
      }
      for (const p of probes) {
        assert.equal(p.rest, 503, "REST answers 503");
        assert.equal(p.restBody.code, "unavailable");
        assert.equal(p.ready, 503, "/readyz reports 503");
      }
      for (const w of watchers)
        assert.equal(
          await Promise.race([w.ended, sleep(0).then(() => "open")]),
          "open",
          "the watcher opened before the outage is still open",
        );
      assert.ok(rows.reads >= handedOut, `a token.read row for each of the ${handedOut} tokens handed out (found ${rows.reads})`);
      assert.ok(
        rows.refusals >= refused,
        `a row for each of the ${refused} refused reads, written after the outage (found ${rows.refusals})`,
      );
      assert.ok(
        rows.deliveries >= delivered,
        `a token.deliver row for each of the ${delivered} watch deliveries (found ${rows.deliveries})`,
      );
      for (const r of replicas) assert.equal((await fetch(`${r.baseUrl}/readyz`)).status, 200, "ready again");
      // The refused calls were audited too, so every replica buffered rows through the outage,
      // failed to write them, retried, and lost none.
      for (const m of auditMetrics) {
        assert.ok(m.writeFailures > 0, "audit writes failed during the outage and were retried");
        assert.equal(m.dropped, 0, "no audit event dropped");
      }
    } finally {
      stopLoad = true;
      for (const w of watchers) w.stop();
      await Promise.all(replicas.map((r) => r.stop()));
      await proxy.close();
      await rig.close();
    }
  });

  test("a silent partition: calls answer Unavailable within the query timeout, SIGTERM still exits, the watcher resumes after", {
    timeout: 300_000,
  }, async (t) => {
    const rig = await startRefreshRig({ rotate: true, accessTtlSeconds: 3600 });
    const databaseUrl = rig.replicaEnv.DATABASE_URL!;
    const target = new URL(databaseUrl);
    const proxy: TcpProxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const replicas: ReplicaProcess[] = [];
    let watcher: CredentialWatcher | undefined;
    try {
      const connectionId = await rig.connect("partition-1");
      // Default database timeouts (NEXUS_DATABASE_QUERY_TIMEOUT_MS 5 s): the point is what they bound.
      for (let i = 0; i < 2; i += 1) replicas.push(await spawnReplica({ ...rig.replicaEnv, DATABASE_URL: proxy.rewrite(databaseUrl) }));
      const [serving, stopped] = replicas as [ReplicaProcess, ReplicaProcess];
      watcher = watchTyped({ baseUrl: serving.baseUrl, apiKey: rig.server.agentKey }, connectionId);
      await watcher.next((e) => e.type === "credential", 30_000);
      const clients = replicas.map((r) =>
        createClient(TokenService, createGrpcTransport({ baseUrl: r.baseUrl, interceptors: [rig.server.bearer()] })),
      );
      for (const client of clients) await client.getToken({ connectionId });

      proxy.blackhole();
      // A hang ends at this client deadline as deadline_exceeded, which fails the assertions below.
      const call = async (client: (typeof clients)[number]) => {
        const startedMs = Date.now();
        try {
          await client.getToken({ connectionId }, { timeoutMs: 45_000 });
          return { code: "ok", ms: Date.now() - startedMs };
        } catch (error) {
          const err = ConnectError.from(error);
          return { code: connectCode(err.code), reason: err.findDetails(ErrorInfoSchema)[0]?.reason, ms: Date.now() - startedMs };
        }
      };
      // Two rounds of three concurrent calls per replica: the first meets partitioned pooled
      // connections (no answer: query timeout), the second new ones (accepted, never answered: connect timeout).
      const rounds = [];
      for (let round = 0; round < 2; round += 1)
        rounds.push(...(await Promise.all(clients.flatMap((client) => [call(client), call(client), call(client)]))));
      const ready = await Promise.all(
        replicas.map(async (r) => (await fetch(`${r.baseUrl}/readyz`, { signal: AbortSignal.timeout(45_000) })).status),
      );
      reportFigure(
        t,
        "silent partition, calls (code, ms)",
        rounds.map((c) => `${c.code} ${c.ms}`),
      );

      // Stopping a replica during the partition: shutdown must not wait for answers that never come.
      const stopStartedMs = Date.now();
      const exitCode = await within(stopped.kill("SIGTERM"), 120_000, "the replica's exit after SIGTERM");
      reportFigure(t, "silent partition, SIGTERM to exit (ms)", Date.now() - stopStartedMs);

      const healedAtMs = Date.now();
      await proxy.restore();
      const refreshed = await rig.tokens.refreshConnection({ connectionId });
      const version = Number(refreshed.credential!.version);
      const heard = await watcher.next((e) => e.type === "credential" && e.version! >= version, 60_000);
      reportFigure(t, "silent partition, heal to watcher served (ms)", heard.atMs - healedAtMs);
      await eventually(async () => (await call(clients[0]!)).code === "ok", 60_000, "a token served after the partition", 50);

      assert.deepEqual(
        rounds.map((c) => [c.code, c.reason]),
        rounds.map(() => ["unavailable", ErrorReason.STORE_UNAVAILABLE]),
        "every call during the partition answered unavailable / STORE_UNAVAILABLE",
      );
      assert.deepEqual(ready, [503, 503], "/readyz reports 503 during the partition");
      assert.equal(exitCode, 0, "a replica stopped during the partition exits cleanly");
      assert.equal(serving.hasExited(), false, "the other replica runs on");
      for (const r of replicas) assert.doesNotMatch(r.output(), /Unhandled|uncaught/i);
      assert.equal(await Promise.race([watcher.ended, sleep(0).then(() => "open")]), "open", "the watcher stayed open");
    } finally {
      watcher?.stop();
      await proxy.restore();
      await Promise.all(replicas.map((r) => r.stop()));
      await proxy.close();
      await rig.close();
    }
  });
});
