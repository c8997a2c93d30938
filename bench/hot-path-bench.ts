/**
 * Figure 1, the GetToken hot path (valid token, no refresh) under load from native generators:
 * gRPC and Connect JSON over h2c with h2load, REST GET /v1/token/{id} over HTTP/1.1 with wrk, each
 * against the bare connect-node baseline in the same run. Reports throughput, p50 and p99, and the
 * ratios ours/bare; targets: throughput ratio >= 0.85 and p99 ratio <= 1.5 (gRPC, Connect JSON),
 * >= 0.7 and <= 2 (REST). The physical floor (raw node:http2 / node:http writing the same bytes)
 * is measured in the same run too, so the table also says how far both are from the limit.
 */
import type { BenchContext, Benchmark } from "./bench-context.ts";
import { type Figure, makeFigure, TARGETS } from "./figure.ts";
import { type LoadResult, runH2load } from "./h2load-run.ts";
import { type HotPathRig, type HotPathTarget, startHotPathRig } from "./hot-path-rig.ts";
import { h2loadCount, readCpuMicros } from "./server-cpu.ts";
import { runWrk } from "./wrk-run.ts";

/** Callers in flight: a few HTTP/2 connections, several streams each (h2load -c × -m). */
const H2_CONNECTIONS = 4;
const H2_STREAMS = 16;
/** HTTP/1.1 keeps one request per connection: as many connections as h2 callers. */
const H1_CONNECTIONS = H2_CONNECTIONS * H2_STREAMS;

/** Load settings for a run. */
function durations(context: BenchContext) {
  return context.quick ? { warmupS: 1, durationS: 3 } : { warmupS: 2, durationS: 8 };
}

/** The hot-path benchmark. */
export const hotPathBench: Benchmark = {
  name: "hot-path",
  tools: ["h2load", "wrk"],
  async run(context) {
    const rig = await startHotPathRig(context, { withBaseline: true });
    try {
      const { bare, raw: floor } = rig;
      if (!bare || !floor) throw new Error("baseline missing");
      const figures: Figure[] = [];
      const raw: Record<string, { nexus: LoadResult; bare: LoadResult; floor: LoadResult }> = {};
      for (const protocol of ["grpc", "connect", "rest"] as const) {
        // Floor, baseline, then Nexus: the processes stay up, only one is loaded at a time.
        const floorResult = await load(context, rig, protocol, floor);
        const bareResult = await load(context, rig, protocol, bare);
        const nexusResult = await load(context, rig, protocol, rig.nexus);
        raw[protocol] = { nexus: nexusResult, bare: bareResult, floor: floorResult };
        figures.push(...compare(protocol, nexusResult, bareResult, floorResult));
      }
      // Server CPU per call, each side warm by now: robust on a shared machine (server-cpu.ts).
      const cpu: Record<string, Record<string, number>> = {};
      for (const protocol of ["grpc", "connect", "rest"] as const) {
        const perCall: Record<string, number> = {};
        for (const [side, target] of [
          ["floor", floor],
          ["bare", bare],
          ["nexus", rig.nexus],
        ] as const) {
          const micros = await cpuPerCall(context, rig, protocol, target);
          if (micros !== undefined) perCall[side] = micros;
        }
        cpu[protocol] = perCall;
        if (perCall.nexus !== undefined && perCall.bare !== undefined) {
          figures.push(
            makeFigure({
              name: `GetToken ${labelOf(protocol)} server CPU per call`,
              value: perCall.nexus,
              unit: "µs",
              baseline: perCall.bare,
              note: `process CPU time / calls; raw floor ${perCall.floor?.toFixed(0) ?? "?"} µs`,
            }),
          );
        }
      }
      return { figures, extra: { hotPath: { callersInFlight: H1_CONNECTIONS, ...durations(context), raw, cpuMicrosPerCall: cpu } } };
    } finally {
      await rig.stop();
    }
  },
};

/** Runs one protocol's load against one side and checks that nothing failed. */
export async function load(
  context: BenchContext,
  rig: HotPathRig,
  protocol: "grpc" | "connect" | "rest",
  target: HotPathTarget,
): Promise<LoadResult> {
  const { warmupS, durationS } = durations(context);
  const side = target === rig.nexus ? "nexus" : target === rig.bare ? "bare" : "raw floor";
  context.progress(`hot path: ${protocol} on ${side} (${warmupS}s warm-up + ${durationS}s)`);
  const result =
    protocol === "rest"
      ? await runWrk({ url: target.h1GetUrl, headers: target.headers, connections: H1_CONNECTIONS, durationS, warmupS })
      : await runH2load({
          url: `${target.h2Url}${rig[protocol].path}`,
          bodyFile: rig[protocol].bodyFile,
          headers: { ...rig[protocol].headers, ...target.headers },
          connections: H2_CONNECTIONS,
          streamsPerConnection: H2_STREAMS,
          durationS,
          warmupS,
          scratchDir: context.scratchDir,
        });
  if (result.failed > 0 || result.non2xx > 0) {
    throw new Error(`hot path ${protocol} on ${side}: ${result.failed} failed and ${result.non2xx} non-2xx responses`);
  }
  return result;
}

/** Server CPU µs per call of one side: a fixed number of calls (h2load -n; wrk for REST). */
async function cpuPerCall(
  context: BenchContext,
  rig: HotPathRig,
  protocol: "grpc" | "connect" | "rest",
  target: HotPathTarget,
): Promise<number | undefined> {
  const before = readCpuMicros(target.pid);
  if (before === undefined) return undefined;
  const calls =
    protocol === "rest"
      ? (
          await runWrk({
            url: target.h1GetUrl,
            headers: target.headers,
            connections: H1_CONNECTIONS,
            durationS: context.quick ? 1 : 3,
            warmupS: 0,
          })
        ).succeeded
      : await h2loadCount({
          url: `${target.h2Url}${rig[protocol].path}`,
          bodyFile: rig[protocol].bodyFile,
          headers: { ...rig[protocol].headers, ...target.headers },
          count: context.quick ? 3_000 : 20_000,
        });
  const after = readCpuMicros(target.pid);
  return after === undefined || calls === 0 ? undefined : (after - before) / calls;
}

function labelOf(protocol: string): string {
  return protocol === "rest" ? "REST GET /v1/token (h1, wrk)" : `${protocol === "grpc" ? "gRPC" : "Connect JSON"} (h2c, h2load)`;
}

function compare(protocol: string, nexus: LoadResult, bare: LoadResult, floor: LoadResult): Figure[] {
  const isRest = protocol === "rest";
  const label = labelOf(protocol);
  const note = `${H1_CONNECTIONS} callers in flight; baseline: bare connect-node${isRest ? " Connect GET over HTTP/1.1" : ""}, same response`;
  const floorNote = `baseline: raw ${isRest ? "node:http" : "node:http2"} handler writing the same pre-encoded response (the physical floor)`;
  return [
    makeFigure({
      name: `GetToken ${label} throughput`,
      value: nexus.requestsPerSecond,
      unit: "req/s",
      baseline: bare.requestsPerSecond,
      target: TARGETS.ratioAtLeast(isRest ? 0.7 : 0.85),
      note,
    }),
    makeFigure({ name: `GetToken ${label} p50`, value: nexus.p50Ms, unit: "ms", baseline: bare.p50Ms }),
    makeFigure({
      name: `GetToken ${label} p99`,
      value: nexus.p99Ms,
      unit: "ms",
      baseline: bare.p99Ms,
      target: TARGETS.ratioAtMost(isRest ? 2 : 1.5),
    }),
    makeFigure({
      name: `GetToken ${label} throughput vs floor`,
      value: nexus.requestsPerSecond,
      unit: "req/s",
      baseline: floor.requestsPerSecond,
      note: floorNote,
    }),
    makeFigure({ name: `GetToken ${label} p99 vs floor`, value: nexus.p99Ms, unit: "ms", baseline: floor.p99Ms }),
    makeFigure({
      name: `bare connect-node ${label} throughput vs floor`,
      value: bare.requestsPerSecond,
      unit: "req/s",
      baseline: floor.requestsPerSecond,
    }),
  ];
}
