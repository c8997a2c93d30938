/**
 * Starts the real server (createApp, the same assembly main.ts runs) on 127.0.0.1, port 0, in a
 * temporary data directory, and captures its logs so tests can scan them for secrets. Storage is the
 * test backend (test-store.ts): SQLite in the data directory, or with NEXUS_TEST_STORE=postgres a
 * database of its own per data directory (a restart on the same directory finds the same one).
 * Every server comes with an admin key (NEXUS_ADMIN_API_KEY, so nothing is printed) and an agent
 * key of tenant "default", where tests create their connections; `createKey` makes more.
 */
import { Writable } from "node:stream";
import type { Interceptor } from "@connectrpc/connect";
import { type App, type AppOverrides, createApp } from "../../server/app.ts";
import { generateApiKeySecret } from "../../server/auth/api-key-secret.ts";
import { loadConfig } from "../../server/config/config.ts";
import type { ApiKeyRole } from "../../server/store/store.ts";
import { createTempDataDir, type TempDir } from "./temp-data-dir.ts";
import { dropTestStore, testStoreEnv } from "./test-store.ts";

/** The tenant of `agentKey`, where tests put their connections. */
export const TEST_TENANT = "default";

/** A running test server. */
export interface TestServer {
  readonly app: App;
  /** e.g. "http://127.0.0.1:43121" */
  readonly baseUrl: string;
  readonly dataDir: string;
  /**
   * Environment pointing another process (the CLI, a second replica) at this server's storage:
   * NEXUS_DATA_DIR, plus DATABASE_URL on PostgreSQL.
   */
  readonly storeEnv: Readonly<Record<string, string>>;
  /** Secret of an admin API key. */
  readonly adminKey: string;
  /** Secret of an agent API key of tenant "default". */
  readonly agentKey: string;
  /** Creates a key (the store's own path, so past expiries are allowed) and returns its secret and id. */
  createKey(options: {
    role: ApiKeyRole;
    tenantId?: string;
    expiresAtMs?: number;
    name?: string;
  }): Promise<{ secret: string; keyId: string }>;
  /** `{ authorization: "Bearer …" }` for `key` (default: the agent key). */
  auth(key?: string): Record<string, string>;
  /** A connect-es interceptor sending `key` (default: the agent key) as a bearer token. */
  bearer(key?: string): Interceptor;
  /** Every log line written so far. */
  logs(): string;
  /**
   * Closes the server. Unless `keepDataDir`, its storage goes too: the PostgreSQL database always,
   * the data directory when startServer created it (a directory passed in is the caller's).
   */
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
  const adminKey = options.env?.NEXUS_ADMIN_API_KEY ?? generateApiKeySecret().secret;
  // A test that names its own DATABASE_URL keeps it (and owns that database).
  const databaseUrl = options.env?.DATABASE_URL;
  const storeEnv = {
    NEXUS_DATA_DIR: dataDir,
    ...(databaseUrl === undefined ? await testStoreEnv(dataDir) : { DATABASE_URL: databaseUrl }),
  };
  const config = loadConfig({
    NODE_ENV: "test",
    NEXUS_LOG_LEVEL: "debug",
    PORT: "0",
    ...storeEnv,
    NEXUS_SHUTDOWN_GRACE_MS: "2000",
    NEXUS_ADMIN_API_KEY: adminKey,
    // Tests call far faster than any agent; the limit tests set their own.
    NEXUS_RATE_LIMIT_PER_SECOND: "100000",
    NEXUS_RATE_LIMIT_BURST: "100000",
    // Every test client is 127.0.0.1, and some suites open a transport per call.
    NEXUS_MAX_CONNECTIONS_PER_ADDRESS: "100000",
    ...options.env,
  });
  const chunks: string[] = [];
  const logDestination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  let app: App;
  try {
    app = await createApp(config, { ...options.overrides, logDestination });
  } catch (error) {
    if (temp !== undefined) {
      temp.remove();
      await dropTestStore(dataDir);
    }
    throw error;
  }
  const createKey: TestServer["createKey"] = async ({ role, tenantId, expiresAtMs, name }) => {
    const generated = generateApiKeySecret();
    if (tenantId !== undefined) await app.store.ensureTenant({ id: tenantId });
    const record = await app.store.createApiKey({
      prefix: generated.prefix,
      secretHash: generated.secretHash,
      name: name ?? `test ${role}`,
      role,
      tenantId: role === "agent" ? (tenantId ?? TEST_TENANT) : null,
      expiresAtMs: expiresAtMs ?? null,
    });
    return { secret: generated.secret, keyId: record.id };
  };
  await app.store.ensureTenant({ id: TEST_TENANT });
  const agentKey = (await createKey({ role: "agent", tenantId: TEST_TENANT, name: "test agent" })).secret;
  const { port } = await app.listen();
  return {
    app,
    baseUrl: `http://127.0.0.1:${port}`,
    dataDir,
    storeEnv,
    adminKey,
    agentKey,
    createKey,
    auth: (key = agentKey) => ({ authorization: `Bearer ${key}` }),
    bearer:
      (key = agentKey) =>
      (next) =>
      (req) => {
        req.header.set("authorization", `Bearer ${key}`);
        return next(req);
      },
    logs: () => chunks.join(""),
    async close(closeOptions) {
      await app.close();
      if (closeOptions?.keepDataDir) return;
      temp?.remove();
      await dropTestStore(dataDir);
    },
  };
}
