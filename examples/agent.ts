/**
 * An agent that keeps a WebSocket to an external service alive with Nexus credentials — the seed's
 * Go bridge example (`bridge.NewStandard` + `telemetry.Handler` + `MaintainWebSocket`) in
 * TypeScript. It also follows the connection's credential stream and logs each new version (never
 * the secret). Run it:
 *
 *   NEXUS_URL=http://localhost:8080 NEXUS_API_KEY=nxk_... CONNECTION_ID=conn_... \
 *   STREAM_URL=wss://external.service.com/stream node examples/agent.ts
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { createBridge, createNexusClient, isAttentionRequired, isRevoked, type Logger, metricsHandler } from "../client/index.ts";

/** What the agent needs to know; main() reads it from the environment. */
export interface AgentConfig {
  nexusUrl: string;
  apiKey?: string;
  connectionId: string;
  streamUrl: string;
  /** Constant label on every metric. */
  agentId: string;
  /** Port of the /metrics endpoint; 0 picks a free one. */
  metricsPort: number;
  logger: Logger;
}

/** A running agent. */
export interface RunningAgent {
  /** Where Prometheus scrapes, e.g. "http://127.0.0.1:9090/metrics". */
  metricsUrl: string;
  /** Settles when the WebSocket link stops for good (rejects on revoked / attention_required). */
  done: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the agent: Nexus client, bridge with agent labels, /metrics, credential stream and the
 * maintained WebSocket.
 */
export async function runAgent(config: AgentConfig): Promise<RunningAgent> {
  const { logger } = config;

  // 1. A client for the Nexus gateway.
  const client = createNexusClient({ baseUrl: config.nexusUrl, apiKey: config.apiKey, logger });

  // 2. The bridge, with the agent labels as constant labels on every Prometheus metric.
  const bridge = createBridge({ client, labels: { agent_id: config.agentId } });

  // 3. The /metrics endpoint.
  const serveMetrics = metricsHandler(bridge.metrics.registry);
  const metricsServer = http.createServer((request, response) => {
    if (request.url === "/metrics") return serveMetrics(request, response);
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => metricsServer.listen(config.metricsPort, "127.0.0.1", resolve));
  const metricsUrl = `http://127.0.0.1:${(metricsServer.address() as AddressInfo).port}/metrics`;

  // 4. Follow the credential (rotations arrive here as they happen; the bridge uses them too).
  const stopWatching = new AbortController();
  const watching = (async () => {
    for await (const credential of client.watchCredentials(config.connectionId, { signal: stopWatching.signal })) {
      logger.info({ connection_id: config.connectionId, version: Number(credential.version) }, "credential received");
    }
  })().catch((err: unknown) => {
    if (isAttentionRequired(err)) logger.error({ connection_id: config.connectionId }, "connection needs a person to consent again");
    else if (isRevoked(err)) logger.error({ connection_id: config.connectionId }, "connection was revoked");
    else logger.warn({ connection_id: config.connectionId }, "credential stream unavailable; the bridge keeps polling");
  });

  // 5. Keep the WebSocket alive: credentials applied per the provider's strategy, reconnect with
  //    backoff, re-authenticate on rotation, stop on revoked / attention_required.
  const link = bridge.maintainWebSocket(config.connectionId, config.streamUrl, {
    onConnect: (send) => {
      logger.info({}, "stream connected");
      send(JSON.stringify({ type: "subscribe", channel: "events" }));
    },
    onMessage: (data) => logger.info({ bytes: String(data).length }, "message received"),
    onDisconnect: ({ code, willReconnect }) => logger.warn({ close_code: code, will_reconnect: willReconnect }, "stream disconnected"),
  });

  async function stop(): Promise<void> {
    stopWatching.abort();
    await bridge.stop();
    await watching;
    client.close();
    metricsServer.closeAllConnections();
    await new Promise((resolve) => metricsServer.close(resolve));
  }
  return { metricsUrl, done: link.done, stop };
}

async function main(): Promise<void> {
  const env = process.env;
  const required = (name: string): string => {
    const value = env[name];
    if (!value) {
      process.stderr.write(`agent: set ${name}\n`);
      process.exit(64);
    }
    return value;
  };
  const agent = await runAgent({
    nexusUrl: required("NEXUS_URL"),
    apiKey: env["NEXUS_API_KEY"],
    connectionId: required("CONNECTION_ID"),
    streamUrl: required("STREAM_URL"),
    agentId: env["AGENT_ID"] ?? "my-stable-id",
    metricsPort: Number(env["METRICS_PORT"] ?? 9090),
    logger: pino(),
  });
  process.stdout.write(`agent running; metrics at ${agent.metricsUrl}\n`);
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void agent.stop());
  await agent.done.catch((err: unknown) => {
    process.stderr.write(`agent: link stopped: ${err instanceof Error ? err.name : String(err)}\n`);
    process.exitCode = 1;
  });
  await agent.stop();
}

if (import.meta.main) await main();
