/**
 * A Nexus server process for the benchmarks: `createApp` (the assembly main.ts runs) on a loopback
 * port in a temporary data directory, seeded with bench connections, answering the bench over IPC
 * (settled RSS, credential rotations). Run by `forkChild`, never directly; it removes its data
 * directory when stopped.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../server/app.ts";
import { loadConfig } from "../server/config/config.ts";
import { type BenchSecrets, benchServerEnv } from "./bench-env.ts";
import { serveParent, settledRss } from "./child-channel.ts";
import { rotateCredential, type SeedOptions, seedConnections } from "./seed-connections.ts";

/** What the bench asks of the child. */
export interface NexusChildConfig {
  secrets: BenchSecrets;
  /** Extra environment variables (win over the bench defaults). */
  env?: Record<string, string>;
  seed: SeedOptions;
}

/** What the child reports once listening. */
export interface NexusChildReady {
  port: number;
  agentKey: string;
  connectionIds: string[];
}

/** The script to fork. */
export const NEXUS_CHILD_SCRIPT = import.meta.filename;

async function main(config: NexusChildConfig): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "nexus-bench-"));
  const app = await createApp(loadConfig(benchServerEnv(config.secrets, { NEXUS_DATA_DIR: dataDir, ...config.env })));
  const seeded = await seedConnections(app, config.seed);
  const { port } = await app.listen();
  const profiler = rotationProfiler(process.env.NEXUS_BENCH_FANOUT_CPU_PROF);
  serveParent(
    { port, agentKey: seeded.agentKey, connectionIds: seeded.connectionIds } satisfies NexusChildReady,
    {
      rss: () => settledRss(),
      // Server CPU so far (user + system), µs: the bench divides a fan-out's share by its deliveries.
      cpu: async () => {
        await profiler?.stop();
        const usage = process.cpuUsage();
        return usage.user + usage.system;
      },
      // Saves every listed connection's next version back to back; returns the saved versions, when
      // each save began (epoch ms, sub-millisecond) and how long the saves took (each is a durable
      // write transaction).
      rotate: async (args) => {
        await profiler?.start();
        const started = performance.now();
        const versions: number[] = [];
        const savedAtMs: number[] = [];
        for (const id of args as string[]) {
          // Each save in its own event-loop turn, as saves from separate requests or refreshes
          // arrive: the synchronous SQLite store would otherwise hold the loop for all of them, and
          // no delivery could leave before the last save (the delay from a watcher's own save
          // would include every later save).
          await new Promise<void>((resolve) => setImmediate(resolve));
          savedAtMs.push(performance.timeOrigin + performance.now());
          versions.push(await rotateCredential(app, id));
        }
        return { versions, savedAtMs, elapsedMs: performance.now() - started };
      },
    },
    async () => {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  );
}

/**
 * NEXUS_BENCH_FANOUT_CPU_PROF=<dir>: a V8 CPU profile of each rotation, from the rotate request
 * until the bench next reads the CPU time (every watcher has its version by then), written to <dir>.
 */
function rotationProfiler(dir: string | undefined): { start(): Promise<void>; stop(): Promise<void> } | undefined {
  if (dir === undefined || dir === "") return undefined;
  const session = new Session();
  session.connect();
  let isRunning = false;
  return {
    async start() {
      await session.post("Profiler.enable");
      await session.post("Profiler.setSamplingInterval", { interval: 200 });
      await session.post("Profiler.start");
      isRunning = true;
    },
    async stop() {
      if (!isRunning) return;
      isRunning = false;
      const { profile } = await session.post("Profiler.stop");
      writeFileSync(join(dir, `rotation-${process.pid}-${Date.now()}.cpuprofile`), JSON.stringify(profile));
    },
  };
}

if (import.meta.main) {
  main(JSON.parse(process.argv[2] ?? "{}") as NexusChildConfig).catch((err: unknown) => {
    process.stderr.write(`nexus bench child failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
