/**
 * Starts the real server (createApp, the same assembly main.ts runs) on 127.0.0.1, port 0, in a
 * temporary data directory, and captures its logs so tests can scan them for secrets. Every server
 * comes with an admin key (NEXUS_ADMIN_API_KEY, so nothing is printed) and an agent key of tenant
 * "default", where tests create their connections; `createKey` makes more.
 */
import { Writable } from "node:stream";
import type { Interceptor } from "@connectrpc/connect";
import { createApp, type App, type AppOverrides } from "../../server/app.ts";
import { generateApiKeySecret } from "../../server/auth/api-key-secret.ts";
import { loadConfig } from "../../server/config/config.ts";
import type { ApiKeyRole } from "../../server/store/store.ts";
import { createTempDataDir, type TempDir } from "./temp-data-dir.ts";

/** The tenant of `agentKey`, where tests put their connections. */
export const TEST_TENANT = "default";

/** A running test server. */
export interface TestServer {
  readonly app: App;
  /** e.g. "http://127.0.0.1:43121" */
  readonly baseUrl: string;
  readonly dataDir: string;
  /** Secret of an admin API key. */
  readonly adminKey: string;
  /** Secret of an agent API key of tenant "default". */
  readonly agentKey: string;
  /** Creates a key (the store's own path, so past expiries are allowed) and returns its secret and id. */
  createKey(options: { role: ApiKeyRole; tenantId?: string; expiresAtMs?: number; name?: string }): Promise<{ secret: string; keyId: string }>;
  /** `{ authorization: "Bearer …" }` for `key` (default: the agent key). */
  auth(key?: string): Record<string, string>;
  /** A connect-es interceptor sending `key` (default: the agent key) as a bearer token. */
  bearer(key?: string): Interceptor;
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
  const adminKey = options.env?.NEXUS_ADMIN_API_KEY ?? generateApiKeySecret().secret;
  const config = loadConfig({
    NODE_ENV: "test",
    NEXUS_LOG_LEVEL: "debug",
    PORT: "0",
    NEXUS_DATA_DIR: dataDir,
    NEXUS_SHUTDOWN_GRACE_MS: "2000",
    NEXUS_ADMIN_API_KEY: adminKey,
    // Tests call far faster than any agent; the limit tests set their own.
    NEXUS_RATE_LIMIT_PER_SECOND: "100000",
    NEXUS_RATE_LIMIT_BURST: "100000",
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
    adminKey,
    agentKey,
    createKey,
    auth: (key = agentKey) => ({ authorization: `Bearer ${key}` }),
    bearer: (key = agentKey) => (next) => (req) => {
      req.header.set("authorization", `Bearer ${key}`);
      return next(req);
    },
    logs: () => chunks.join(""),
    async close(closeOptions) {
      await app.close();
      if (!closeOptions?.keepDataDir) temp?.remove();
    },
  };
}
