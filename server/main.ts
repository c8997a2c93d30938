/**
 * Process entry: load the configuration, build the app, listen, print where to reach it, and shut
 * down gracefully on SIGTERM/SIGINT (a second signal hurries, a third exits). Everything else lives
 * in app.ts.
 */

import { createApp } from "./app.ts";
import { ConfigError, checkServerConfig, loadConfig } from "./config/config.ts";

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
