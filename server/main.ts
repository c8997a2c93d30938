/**
 * Process entry: load the configuration, build the app, listen, print where to reach it, and shut
 * down gracefully on SIGTERM/SIGINT (a second signal hurries, a third exits). Everything else lives
 * in app.ts.
 */

import module from "node:module";
import path from "node:path";
import { DEFAULT_COMPILE_CACHE_FLUSH_DELAY_MS, DEFAULT_COMPILE_CACHE_SUBDIR, DEFAULT_DATA_DIR } from "./config/defaults.ts";
import { registerPackageFormatHook } from "./startup/package-format-hook.ts";

// Before any other module of ours loads: Node keeps the compiled, type-stripped code of every module
// on disk and a restart reuses it (cold start). The app and its dependencies are imported below,
// after this, so they are covered. The package-format hook spares Node's resolver a re-parse of a
// package's exports map per loaded file (server/startup/package-format-hook.ts).
enableCompileCache(process.env);
registerPackageFormatHook();
const { createApp } = await import("./app.ts");
const { ConfigError, checkServerConfig, loadConfig } = await import("./config/config.ts");

/**
 * Turns on Node's module compile cache: NEXUS_COMPILE_CACHE_DIR, else `compile-cache` in the data
 * directory (owned by the user that runs Nexus, unlike a shared temp directory); `off` disables it,
 * as does Node's NODE_DISABLE_COMPILE_CACHE. NODE_COMPILE_CACHE, when set, has already enabled it.
 * A directory that cannot be written only means no cache.
 */
function enableCompileCache(env: NodeJS.ProcessEnv): void {
  const setting = env.NEXUS_COMPILE_CACHE_DIR?.trim();
  if (setting === "off" || env.NODE_COMPILE_CACHE || !module.enableCompileCache) return;
  const dataDir = path.resolve(env.NEXUS_DATA_DIR ?? DEFAULT_DATA_DIR);
  const directory = setting ? path.resolve(setting) : path.join(dataDir, DEFAULT_COMPILE_CACHE_SUBDIR);
  try {
    module.enableCompileCache(directory);
  } catch {
    // No cache: start as before.
  }
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
    checkServerConfig(config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`nexus: ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const app = await createApp(config);
  const { port, host } = await app.listen();
  const base = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  app.logger.info({ port, host, mode: config.mode, dataDir: config.dataDir }, "nexus listening");
  // Write the compile cache soon rather than only at a clean exit (a killed process would lose it),
  // but not at once: the write is synchronous (~1,000 files on a first start) and would hold the
  // first requests.
  setTimeout(() => module.flushCompileCache?.(), DEFAULT_COMPILE_CACHE_FLUSH_DELAY_MS).unref();
  process.stdout.write(
    [
      "",
      `Nexus is listening on ${base} (gRPC, gRPC-Web, Connect and REST on one port)`,
      `  health:   curl ${base}/healthz`,
      `  metrics:  curl ${base}/metrics`,
      `  REST:     curl -H "authorization: Bearer $NEXUS_API_KEY" ${base}/v1/check-connection/conn_example`,
      `  Connect:  curl -H "authorization: Bearer $NEXUS_API_KEY" -H 'content-type: application/json' -d '{"connection_id":"conn_example"}' ${base}/nexus.v1.ConnectionService/CheckConnection`,
      `  gRPC:     npx buf curl --protocol grpc --http2-prior-knowledge -H "authorization: Bearer $NEXUS_API_KEY" --reflect-header '*' -d '{"connection_id":"conn_example"}' ${base}/nexus.v1.ConnectionService/CheckConnection`,
      `  CLI:      NEXUS_URL=${base} NEXUS_API_KEY=… npm run nexus -- --help`,
      "",
    ].join("\n") + "\n",
  );

  // First signal: graceful shutdown. Second: cut the requests' grace short, but still wait for the
  // refreshes in flight (a provider may already have rotated a refresh token they hold). Third: exit
  // now, loudly. Kubernetes sends one SIGTERM, then SIGKILL after terminationGracePeriodSeconds.
  let signals = 0;
  const stop = (signal: string) => {
    signals += 1;
    if (signals === 1) {
      app.logger.info({ signal }, "shutting down");
    } else if (signals === 2) {
      app.logger.warn(
        { signal },
        "second signal: ending requests now; still waiting for refreshes in flight (a third signal exits at once)",
      );
    } else {
      app.logger.error(
        { signal },
        "third signal: exiting now; refreshes in flight are abandoned (their leases run out and another replica retries)",
      );
      process.exit(1);
    }
    app.close({ isUrgent: signals > 1 }).then(
      () => process.exit(0),
      (err: unknown) => {
        app.logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((err: unknown) => {
  process.stderr.write(`nexus: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
