/**
 * Process entry: load the configuration, build the app, listen, print where to reach it, and shut
 * down gracefully on SIGTERM/SIGINT. Everything else lives in app.ts.
 */
import { checkServerConfig, ConfigError, loadConfig } from "./config/config.ts";
import { createApp } from "./app.ts";

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
      `  gRPC:     npx buf curl --protocol grpc --http2-prior-knowledge -H "authorization: Bearer $NEXUS_API_KEY" -d '{"connection_id":"conn_example"}' ${base}/nexus.v1.ConnectionService/CheckConnection`,
      "",
    ].join("\n") + "\n",
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      app.logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    app.logger.info({ signal }, "shutting down");
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((err: unknown) => {
  process.stderr.write(`nexus: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
