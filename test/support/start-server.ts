/**
 * Starts the real server (createApp, the same assembly main.ts runs) on 127.0.0.1, port 0, in a
 * temporary data directory, and captures its logs so tests can scan them for secrets.
 */
import { Writable } from "node:stream";
import { createApp, type App, type AppOverrides } from "../../server/app.ts";
import { loadConfig } from "../../server/config/config.ts";
import { createTempDataDir, type TempDir } from "./temp-data-dir.ts";

/** A running test server. */
export interface TestServer {
  readonly app: App;
  /** e.g. "http://127.0.0.1:43121" */
  readonly baseUrl: string;
  readonly dataDir: string;
  /** Every log line written so far. */
  logs(): string;
  /** Closes the server; removes the data directory unless `keepDataDir`. */
  close(options?: { keepDataDir?: boolean }): Promise<void>;
}

/**
 * Starts a server; `env` adds or overrides environment variables, `overrides` replaces app
 * dependencies (clock, outbound fetch) — the log destination is always the captured one.
 */
export async function startServer(
  options: { env?: Record<string, string>; dataDir?: string; overrides?: Omit<AppOverrides, "logDestination"> } = {},
): Promise<TestServer> {
  const temp: TempDir | undefined = options.dataDir === undefined ? createTempDataDir() : undefined;
  const dataDir = options.dataDir ?? temp!.path;
  const config = loadConfig({
    NODE_ENV: "test",
    NEXUS_LOG_LEVEL: "debug",
    PORT: "0",
    NEXUS_DATA_DIR: dataDir,
    NEXUS_SHUTDOWN_GRACE_MS: "2000",
    ...options.env,
  });
  const chunks: string[] = [];
  const logDestination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const app = await createApp(config, { ...options.overrides, logDestination });
  const { port } = await app.listen();
  return {
    app,
    baseUrl: `http://127.0.0.1:${port}`,
    dataDir,
    logs: () => chunks.join(""),
    async close(closeOptions) {
      await app.close();
      if (!closeOptions?.keepDataDir) temp?.remove();
    },
  };
}
