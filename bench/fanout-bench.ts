/**
 * Figure 2, WatchCredentials fan-out: thousands of watchers in one server process, then one saved
 * credential version per watched connection; measures how long until every watcher has it (p50,
 * p99, max from the save request) and the server's RSS per watcher (settled RSS before and after
 * subscribing, server in its own process). Baseline: the same fan-out through a bare connect-node
 * server streaming from an EventEmitter. Targets: p99 <= 250 ms, <= 16 KiB per watcher.
 */
import { create, toJson } from "@bufbuild/protobuf";
import { CredentialSchema } from "../gen/nexus/v1/credential_pb.ts";
import { GetTokenResponseSchema } from "../gen/nexus/v1/tokens_pb.ts";
import { BARE_CHILD_SCRIPT, type BareChildConfig, type BareChildReady } from "./bare-token-server.ts";
import type { BenchContext, Benchmark } from "./bench-context.ts";
import { createBenchSecrets } from "./bench-env.ts";
import { type ChildHandle, forkChild } from "./child-channel.ts";
import { type Figure, makeFigure, TARGETS } from "./figure.ts";
import { NEXUS_CHILD_SCRIPT, type NexusChildConfig, type NexusChildReady } from "./nexus-child.ts";
import { type LatencySummary, summarizeLatencies } from "./percentiles.ts";
import { openWatchFleet } from "./watch-fleet.ts";

/** Streams per HTTP/2 session: the listener announces at most 100 concurrent streams (server/http/listener.ts). */
const STREAMS_PER_SESSION = 100;
const DELIVERY_TIMEOUT_MS = 60_000;

/** One fan-out shape. */
interface Shape {
  label: string;
  connections: number;
  watchersPerConnection: number;
}

/** What one side measured. */
interface SideResult {
  /** From the save of each watcher's own connection (what the fan-out adds). */
  delivery: LatencySummary;
  /** From the first save (includes the back-to-back saves of the other connections). */
  deliveryFromFirstSave: LatencySummary;
  /** Marginal: RSS growth over the second half of the watchers, per watcher. */
  rssPerWatcherKiB: number;
  /** RSS growth from no watcher to all, per watcher (fixed costs included). */
  averageRssPerWatcherKiB: number;
  /** How long the server took to save (Nexus) or emit (baseline) the new versions. */
  rotateMs: number;
  /** Server CPU (user + system) from the save request until every watcher had its version, per watcher, µs. */
  cpuPerDeliveryUs: number;
  watchers: number;
}

/** The fan-out benchmark. */
export const fanoutBench: Benchmark = {
  name: "fanout",
  tools: [],
  async run(context) {
    const shapes: Shape[] = context.quick
      ? [
          { label: "1 connection × 1,000 watchers", connections: 1, watchersPerConnection: 1000 },
          { label: "100 connections × 10 watchers", connections: 100, watchersPerConnection: 10 },
        ]
      : [
          { label: "1 connection × 10,000 watchers", connections: 1, watchersPerConnection: 10_000 },
          { label: "1,000 connections × 10 watchers", connections: 1000, watchersPerConnection: 10 },
        ];
    const figures: Figure[] = [];
    const raw: Record<string, { nexus: SideResult; bare: SideResult; floor: SideResult }> = {};
    for (const shape of shapes) {
      const nexus = await measureNexus(context, shape);
      const bare = await measureBare(context, shape, "bare");
      const floor = await measureBare(context, shape, "floor");
      raw[shape.label] = { nexus, bare, floor };
      const note = `${nexus.watchers} watchers over ${Math.ceil(nexus.watchers / STREAMS_PER_SESSION)} HTTP/2 sessions; delivery from the save of the watcher's connection; baseline: bare connect-node + EventEmitter; floor: raw node:http2, one pre-encoded frame per event written to every stream`;
      figures.push(
        makeFigure({
          name: `Watch fan-out ${shape.label}: p50 delivery`,
          value: nexus.delivery.p50,
          unit: "ms",
          baseline: bare.delivery.p50,
          floor: floor.delivery.p50,
        }),
        makeFigure({
          name: `Watch fan-out ${shape.label}: p99 delivery`,
          value: nexus.delivery.p99,
          unit: "ms",
          baseline: bare.delivery.p99,
          floor: floor.delivery.p99,
          target: TARGETS.atMost(250, "ms"),
          note,
        }),
        ...(shape.connections > 1
          ? [
              makeFigure({
                name: `Watch fan-out ${shape.label}: p99 from the first save (incl. ${shape.connections} back-to-back saves)`,
                value: nexus.deliveryFromFirstSave.p99,
                unit: "ms",
                baseline: bare.deliveryFromFirstSave.p99,
                floor: floor.deliveryFromFirstSave.p99,
                note: `Nexus saved the ${shape.connections} versions in ${nexus.rotateMs.toFixed(0)} ms (durable writes); the baselines emit them from memory`,
              }),
            ]
          : []),
        makeFigure({
          name: `Watch fan-out ${shape.label}: max delivery`,
          value: nexus.delivery.max,
          unit: "ms",
          baseline: bare.delivery.max,
          floor: floor.delivery.max,
        }),
        makeFigure({
          name: `Watch fan-out ${shape.label}: server CPU per delivery`,
          value: nexus.cpuPerDeliveryUs,
          unit: "µs",
          baseline: bare.cpuPerDeliveryUs,
          floor: floor.cpuPerDeliveryUs,
          note: "user + system CPU of the server process from the save request until every watcher had the version, divided by the watchers (Nexus includes the saves and the audit rows)",
        }),
        makeFigure({
          name: `Watch fan-out ${shape.label}: server RSS per watcher`,
          value: nexus.rssPerWatcherKiB,
          unit: "KiB",
          baseline: bare.rssPerWatcherKiB,
          floor: floor.rssPerWatcherKiB,
          target: TARGETS.atMost(16, "KiB"),
        }),
      );
    }
    return { figures, extra: { fanout: raw } };
  },
};

async function measureNexus(context: BenchContext, shape: Shape): Promise<SideResult> {
  const child = await forkChild<NexusChildReady>(
    NEXUS_CHILD_SCRIPT,
    {
      secrets: createBenchSecrets(),
      seed: { count: shape.connections, tokenEndpoint: "http://127.0.0.1:9/token", expiresInS: 3600, withRefreshToken: false },
    } satisfies NexusChildConfig,
    { execArgv: ["--expose-gc"] },
  );
  try {
    return await measure(
      context,
      `Nexus ${shape.label}`,
      child,
      `http://127.0.0.1:${child.ready.port}`,
      child.ready.agentKey,
      child.ready.connectionIds,
      shape,
    );
  } finally {
    await child.stop();
  }
}

/** The bare connect-node baseline, or the raw node:http2 floor (same child process). */
async function measureBare(context: BenchContext, shape: Shape, side: "bare" | "floor"): Promise<SideResult> {
  const credential = create(CredentialSchema, { connectionId: "x", version: 1n, expiresAt: BigInt(Math.floor(Date.now() / 1000) + 3600) });
  credential.credentials = { access_token: `at-0-${"x".repeat(60)}`, expires_at: Math.floor(Date.now() / 1000) + 3600 } as never;
  const child = await forkChild<BareChildReady>(
    BARE_CHILD_SCRIPT,
    { getTokenResponse: toJson(GetTokenResponseSchema, create(GetTokenResponseSchema, { credential })) } satisfies BareChildConfig,
    { execArgv: ["--expose-gc"] },
  );
  try {
    const ids = Array.from({ length: shape.connections }, (_, i) => `conn_bench_${i}`);
    const port = side === "bare" ? child.ready.h2Port : child.ready.floorPort;
    return await measure(context, `${side} ${shape.label}`, child, `http://127.0.0.1:${port}`, "bench", ids, shape);
  } finally {
    await child.stop();
  }
}

async function measure(
  context: BenchContext,
  label: string,
  child: ChildHandle<unknown>,
  baseUrl: string,
  key: string,
  connectionIds: readonly string[],
  shape: Shape,
): Promise<SideResult> {
  const total = shape.connections * shape.watchersPerConnection;
  const half = Math.max(1, Math.floor(shape.watchersPerConnection / 2));
  const open = (watchersPerConnection: number) =>
    openWatchFleet({
      baseUrl,
      authorization: `Bearer ${key}`,
      connectionIds,
      watchersPerConnection,
      sessions: Math.ceil((connectionIds.length * watchersPerConnection) / STREAMS_PER_SESSION),
    });
  context.progress(`fan-out: ${label}: opening ${total} watch streams`);
  const rssStart = await child.call<number>("rss");
  // Two halves, RSS read after each: the second half's growth is the marginal cost per watcher,
  // free of the fixed costs the first streams pay (session buffers, JIT, heap reservations).
  const first = await open(half);
  const rssHalf = await child.call<number>("rss");
  const second = await open(shape.watchersPerConnection - half);
  try {
    const rssFull = await child.call<number>("rss");
    const cpuBefore = await child.call<number>("cpu");
    const startedAtMs = performance.now();
    const {
      versions,
      savedAtMs,
      elapsedMs: rotateMs,
    } = await child.call<{ versions: number[]; savedAtMs: number[]; elapsedMs: number }>("rotate", connectionIds);
    const expected = new Map(connectionIds.map((id, i) => [id, versions[i] ?? Number.POSITIVE_INFINITY]));
    // Each connection's save start on this process's performance.now() scale (both are epoch-based).
    const savedAt = new Map(connectionIds.map((id, i) => [id, (savedAtMs[i] ?? 0) - performance.timeOrigin]));
    const delaysOf = (from: number | ReadonlyMap<string, number>) =>
      Promise.all([
        first.waitForVersions(expected, from, DELIVERY_TIMEOUT_MS),
        second.waitForVersions(expected, from, DELIVERY_TIMEOUT_MS),
      ]).then((all) => all.flat());
    const delays = await delaysOf(savedAt);
    const cpuPerDeliveryUs = ((await child.call<number>("cpu")) - cpuBefore) / total;
    // Every watcher has its version by now: this only recomputes the delays from the first save.
    const delaysFromFirst = await delaysOf(startedAtMs);
    const delivery = summarizeLatencies(delays);
    const deliveryFromFirstSave = summarizeLatencies(delaysFromFirst);
    const rssPerWatcherKiB = (rssFull - rssHalf) / 1024 / second.size;
    context.progress(
      `fan-out: ${label}: server CPU ${cpuPerDeliveryUs.toFixed(1)} µs per delivery; p99 ${delivery.p99.toFixed(1)} ms, ${deliveryFromFirstSave.p99.toFixed(1)} ms from the first save (saving the versions took ${rotateMs.toFixed(0)} ms); RSS +${mib(rssFull - rssStart)} MiB in all, ${rssPerWatcherKiB.toFixed(1)} KiB per added watcher`,
    );
    return {
      delivery,
      deliveryFromFirstSave,
      cpuPerDeliveryUs,
      rssPerWatcherKiB,
      averageRssPerWatcherKiB: (rssFull - rssStart) / 1024 / total,
      watchers: total,
      rotateMs,
    };
  } finally {
    first.close();
    second.close();
  }
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}
