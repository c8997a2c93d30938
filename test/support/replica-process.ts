/**
 * Nexus replicas as real processes: `node server/main.ts` (what `npm start` runs) on port 0 with a
 * data directory of its own, pointed by the caller's environment at a shared PostgreSQL database.
 * Tests stop them gracefully (SIGTERM) or kill them outright (SIGKILL) to stage a crash.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createTempDataDir } from "./temp-data-dir.ts";

/** A running replica. */
export interface ReplicaProcess {
  /** e.g. "http://127.0.0.1:40121" */
  readonly baseUrl: string;
  readonly pid: number;
  /** stdout and stderr so far (JSON log lines and the start-up banner). */
  output(): string;
  /** Whether the process has exited (for whatever reason). */
  hasExited(): boolean;
  /** Sends `signal` and resolves once the process has exited (with its exit code, or null after a signal). */
  kill(signal: NodeJS.Signals): Promise<number | null>;
  /** SIGTERM, wait for exit, remove the data directory; safe to call twice or after kill. */
  stop(): Promise<void>;
}

/** Longest wait for the "listening on" line, ms. */
const START_TIMEOUT_MS = 30_000;

/**
 * Starts a replica; `env` must carry DATABASE_URL, NEXUS_ENCRYPTION_KEYS (shared by all replicas)
 * and NEXUS_ADMIN_API_KEY. Resolves once it listens.
 */
export async function spawnReplica(env: Record<string, string>): Promise<ReplicaProcess> {
  const dir = createTempDataDir("nexus-replica-");
  const child = spawn(process.execPath, ["server/main.ts"], {
    env: {
      ...process.env,
      PORT: "0",
      NEXUS_HOST: "127.0.0.1",
      NEXUS_DATA_DIR: dir.path,
      NEXUS_LOG_LEVEL: "warn",
      // Tests call far faster than any agent.
      NEXUS_RATE_LIMIT_PER_SECOND: "100000",
      NEXUS_RATE_LIMIT_BURST: "100000",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let baseUrl: string;
  try {
    baseUrl = await listeningUrl(child, () => out);
  } catch (error) {
    child.kill("SIGKILL");
    await exited;
    dir.remove();
    throw error;
  }
  const kill = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  return {
    baseUrl,
    pid: child.pid!,
    output: () => out,
    hasExited: () => child.exitCode !== null || child.signalCode !== null,
    kill,
    async stop() {
      await kill("SIGTERM");
      dir.remove();
    },
  };
}

function listeningUrl(child: ChildProcess, output: () => string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`replica did not listen within ${START_TIMEOUT_MS} ms:\n${output()}`)),
      START_TIMEOUT_MS,
    );
    const onData = () => {
      const match = /listening on (http:\/\/\S+)/.exec(output());
      if (match) {
        clearTimeout(timer);
        child.stdout!.off("data", onData);
        resolve(match[1]!);
      }
    };
    child.stdout!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`replica exited during start-up (${code}):\n${output()}`));
    });
  });
}
