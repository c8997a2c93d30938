/**
 * A Nexus server process for the benchmarks: `createApp` (the assembly main.ts runs) on a loopback
 * port in a temporary data directory, seeded with bench connections, answering the bench over IPC
 * (settled RSS, credential rotations). Run by `forkChild`, never directly; it removes its data
 * directory when stopped.
 */
import { mkdtempSync, rmSync } from "node:fs";
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
  serveParent(
    { port, agentKey: seeded.agentKey, connectionIds: seeded.connectionIds } satisfies NexusChildReady,
    {
      rss: () => settledRss(),
      // Server CPU so far (user + system), µs: the bench divides a fan-out's share by its deliveries.
      cpu: () => {
        const usage = process.cpuUsage();
        return usage.user + usage.system;
      },
      // Saves every listed connection's next version back to back; returns the saved versions, when
      // each save began (epoch ms, sub-millisecond) and how long the saves took (each is a durable
      // write transaction).
      rotate: async (args) => {
        const started = performance.now();
        const versions: number[] = [];
        const savedAtMs: number[] = [];
        for (const id of args as string[]) {
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

if (import.meta.main) {
  main(JSON.parse(process.argv[2] ?? "{}") as NexusChildConfig).catch((err: unknown) => {
    process.stderr.write(`nexus bench child failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
