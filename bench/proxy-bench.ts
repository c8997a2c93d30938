/**
 * The proxy figure (issue 15): a proxied GET of a 1 KiB and of a 1 MiB body through
 * /v1/proxy/{connection_id}/… versus calling the same local provider directly, same run, same
 * provider process (it checks the bearer token the proxy applies, so the direct load sends it too).
 * Throughput under load (wrk, 16 HTTP/1.1 connections) and latency unloaded (wrk, 1 connection):
 * added p50 and p99 are proxied minus direct at one connection, where queueing does not hide the
 * per-request cost. Targets: throughput ratio >= 0.7; added p50 <= 2 ms for 1 KiB. A third process, a
 * bare undici relay, shows what any pass-through costs on this machine, apart from Nexus's own work.
 */
import type { BenchContext, Benchmark } from "./bench-context.ts";
import { createBenchSecrets } from "./bench-env.ts";
import { type ChildHandle, forkChild } from "./child-channel.ts";
import { type Figure, makeFigure, TARGETS } from "./figure.ts";
import { NEXUS_CHILD_SCRIPT, type NexusChildConfig, type NexusChildReady } from "./nexus-child.ts";
import { PROXY_UPSTREAM_CHILD_SCRIPT, type ProxyUpstreamChildConfig, type ProxyUpstreamChildReady } from "./proxy-upstream-child.ts";
import { BENCH_TENANT } from "./seed-connections.ts";
import { runWrk, type WrkResult } from "./wrk-run.ts";

/** Callers in flight for the throughput figures. */
const LOADED_CONNECTIONS = 16;

function durations(context: BenchContext) {
  return context.quick ? { warmupS: 1, durationS: 3 } : { warmupS: 2, durationS: 8 };
}

/** The access token seed-connections gives connection 0 (the provider checks it). */
const SEEDED_TOKEN = `at-0-${"x".repeat(60)}`;

/** The proxy benchmark. */
export const proxyBench: Benchmark = {
  name: "proxy",
  tools: ["wrk"],
  async run(context) {
    const authorization = `Bearer ${SEEDED_TOKEN}`;
    const children: ChildHandle<unknown>[] = [];
    try {
      const upstream = await forkChild<ProxyUpstreamChildReady>(PROXY_UPSTREAM_CHILD_SCRIPT, {
        authorization,
      } satisfies ProxyUpstreamChildConfig);
      children.push(upstream);
      const base = `http://127.0.0.1:${upstream.ready.port}`;
      // NEXUS_BENCH_PROXY_CPU_PROF=<dir>: the Nexus child writes a V8 CPU profile there when it stops.
      const profileDir = process.env.NEXUS_BENCH_PROXY_CPU_PROF;
      const nexusExecArgv = profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [];
      const nexus = await forkChild<NexusChildReady>(
        NEXUS_CHILD_SCRIPT,
        {
          secrets: createBenchSecrets(),
          env: { NEXUS_PROXY_OPEN_TENANTS: BENCH_TENANT },
          seed: {
            count: 1,
            tokenEndpoint: "http://127.0.0.1:9/token",
            expiresInS: 3600,
            withRefreshToken: false,
            apiBaseUrl: `${base}/bench`,
          },
        } satisfies NexusChildConfig,
        { execArgv: nexusExecArgv },
      );
      children.push(nexus);
      const connectionId = nexus.ready.connectionIds[0] ?? "";
      const proxied = (size: string) => ({
        url: `http://127.0.0.1:${nexus.ready.port}/v1/proxy/${connectionId}/${size}`,
        headers: { authorization: `Bearer ${nexus.ready.agentKey}` },
      });
      const direct = (size: string) => ({ url: `${base}/bench/${size}`, headers: { authorization } });
      const relayChild = await forkChild<ProxyUpstreamChildReady>(PROXY_UPSTREAM_CHILD_SCRIPT, {
        authorization,
        relayTo: base,
      } satisfies ProxyUpstreamChildConfig);
      children.push(relayChild);
      const relay = (size: string) => ({ url: `http://127.0.0.1:${relayChild.ready.port}/relay/${size}`, headers: {} });
      for (const size of ["1k", "1m"]) {
        for (const target of [proxied(size), direct(size), relay(size)]) {
          const res = await fetch(target.url, { headers: target.headers });
          const length = (await res.arrayBuffer()).byteLength;
          if (res.status !== 200 || length !== (size === "1k" ? 1024 : 1024 * 1024)) {
            throw new Error(`GET ${target.url}: HTTP ${res.status}, ${length} bytes`);
          }
        }
      }
      context.progress(`proxy: Nexus pid ${nexus.pid}, provider pid ${upstream.pid}`);

      const figures: Figure[] = [];
      const raw: Record<string, Record<string, WrkResult>> = {};
      for (const size of ["1k", "1m"] as const) {
        const label = size === "1k" ? "1 KiB" : "1 MiB";
        const results: Record<string, WrkResult> = {};
        for (const [name, target, connections, cpuPid] of [
          ["directLoaded", direct(size), LOADED_CONNECTIONS, upstream.pid],
          ["proxiedLoaded", proxied(size), LOADED_CONNECTIONS, nexus.pid],
          ["relayLoaded", relay(size), LOADED_CONNECTIONS, relayChild.pid],
          ["directSingle", direct(size), 1, undefined],
          ["proxiedSingle", proxied(size), 1, undefined],
        ] as const) {
          context.progress(`proxy: ${label} ${name} (${connections} connection${connections === 1 ? "" : "s"})`);
          const result = await runWrk({ ...target, connections, ...durations(context), ...(cpuPid === undefined ? {} : { cpuPid }) });
          if (result.failed > 0 || result.non2xx > 0)
            throw new Error(`proxy ${size} ${name}: ${result.failed} failed, ${result.non2xx} non-2xx`);
          results[name] = result;
        }
        raw[size] = results;
        const r = results as Record<"directLoaded" | "proxiedLoaded" | "relayLoaded" | "directSingle" | "proxiedSingle", WrkResult>;
        figures.push(
          makeFigure({
            name: `Proxied GET ${label}: throughput`,
            value: r.proxiedLoaded.requestsPerSecond,
            unit: "req/s",
            baseline: r.directLoaded.requestsPerSecond,
            target: TARGETS.ratioAtLeast(0.7),
            note: `${LOADED_CONNECTIONS} HTTP/1.1 connections (wrk); baseline: the same provider called directly`,
          }),
          makeFigure({
            name: `Proxied GET ${label}: throughput vs a bare relay`,
            value: r.proxiedLoaded.requestsPerSecond,
            unit: "req/s",
            baseline: r.relayLoaded.requestsPerSecond,
            note: "baseline: undici + stream.pipeline pass-through with no auth, store, audit or checks (what any relay costs here)",
          }),
          ...(r.proxiedLoaded.serverCpuUsPerCall !== undefined && r.relayLoaded.serverCpuUsPerCall !== undefined
            ? [
                makeFigure({
                  name: `Proxied GET ${label}: relaying process CPU per call vs a bare relay`,
                  value: r.proxiedLoaded.serverCpuUsPerCall,
                  unit: "µs",
                  baseline: r.relayLoaded.serverCpuUsPerCall,
                  note: `CPU (user + system) of the relaying process per request under the 16-connection load, which moves far less than req/s on a shared machine; the provider answering directly spends ${(r.directLoaded.serverCpuUsPerCall ?? Number.NaN).toFixed(0)} µs per request`,
                }),
              ]
            : []),
          makeFigure({
            name: `Proxied GET ${label}: added p50`,
            value: r.proxiedSingle.p50Ms - r.directSingle.p50Ms,
            unit: "ms",
            ...(size === "1k" ? { target: TARGETS.atMost(2, "ms") } : {}),
            note: `one connection: proxied p50 ${r.proxiedSingle.p50Ms.toFixed(3)} ms, direct ${r.directSingle.p50Ms.toFixed(3)} ms`,
          }),
          makeFigure({
            name: `Proxied GET ${label}: added p99`,
            value: r.proxiedSingle.p99Ms - r.directSingle.p99Ms,
            unit: "ms",
            note: `one connection: proxied p99 ${r.proxiedSingle.p99Ms.toFixed(3)} ms, direct ${r.directSingle.p99Ms.toFixed(3)} ms`,
          }),
        );
      }
      return { figures, extra: { proxy: { loadedConnections: LOADED_CONNECTIONS, ...durations(context), raw } } };
    } finally {
      await Promise.all(children.map((child) => child.stop()));
    }
  },
};
