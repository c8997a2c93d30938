/**
 * Bridge metrics: constant labels, safe re-creation on a shared registry, no global registry,
 * the /metrics handler, and two bridges with the same labels sharing one registry.
 */
import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { register as globalRegistry, Registry } from "prom-client";
import { createBridge, createBridgeMetrics, createNexusClient, metricsHandler } from "../client/index.ts";
import { eventually, FAST_BACKOFF } from "./support/client-test-kit.ts";
import { metricValue } from "./support/metric-value.ts";
import { startScriptedNexus } from "./support/scripted-nexus.ts";
import { startTokenWebSocketService } from "./support/token-websocket-service.ts";

const target = { connectionId: "c", transport: "websocket" } as const;

test("creating the metrics twice on one registry reuses them; observations add up", async () => {
  const registry = new Registry();
  const a = createBridgeMetrics({ registry, labels: { agent_id: "x" } });
  const b = createBridgeMetrics({ registry, labels: { agent_id: "x" } });
  a.connected(target);
  b.connected(target);
  b.disconnected(target);
  a.tokenRefreshed(target);
  a.reconnectDelay(target, 0.5);
  b.credentialAge(target, 12);
  assert.equal(await metricValue(registry, "bridge_connections_total", { agent_id: "x" }), 2);
  assert.equal(await metricValue(registry, "bridge_disconnects_total"), 1);
  assert.equal(await metricValue(registry, "bridge_token_refreshes_total"), 1);
  assert.equal(await metricValue(registry, "bridge_connection_status", { connection_id: "c" }), 0);
  assert.equal(await metricValue(registry, "bridge_reconnect_delay_seconds"), 1);
  assert.equal(await metricValue(registry, "bridge_credential_age_seconds"), 1);
  assert.equal(registry.getMetricsAsArray().length, 6);
});

test("label values may differ between bridges sharing a registry; label names may not", () => {
  const registry = new Registry();
  const a = createBridgeMetrics({ registry, labels: { agent_id: "a" } });
  const b = createBridgeMetrics({ registry, labels: { agent_id: "b" } });
  a.connected(target);
  b.connected(target);
  assert.throws(() => createBridgeMetrics({ registry, labels: { team: "t" } }), /other labels/);
  assert.throws(() => createBridgeMetrics({ labels: { connection_id: "x" } }), TypeError);
});

test("without a registry each call gets its own, and the global registry stays empty", () => {
  const a = createBridgeMetrics();
  const b = createBridgeMetrics();
  assert.notEqual(a.registry, b.registry);
  assert.equal(globalRegistry.getSingleMetric("bridge_connections_total"), undefined);
});

test("metricsHandler serves the Prometheus text format with the constant labels", async () => {
  const metrics = createBridgeMetrics({ labels: { agent_id: "my-stable-id" } });
  metrics.connected(target);
  const server = http.createServer(metricsHandler(metrics.registry));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /text\/plain/);
    const body = await response.text();
    assert.match(body, /bridge_connections_total\{agent_id="my-stable-id",connection_id="c",transport="websocket"\} 1/);
    assert.match(body, /# TYPE bridge_connection_status gauge/);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test("two bridges with the same labels and registry both run and count into the same series", async () => {
  const nexus = await startScriptedNexus({ heartbeatIntervalMs: 50 });
  nexus.addConnection("c");
  const service = await startTokenWebSocketService(() => `tok-c-v${nexus.credential("c").version}`);
  const registry = new Registry();
  const client = createNexusClient({ baseUrl: nexus.baseUrl, registry });
  const first = createBridge({ client, labels: { agent_id: "same" }, backoff: FAST_BACKOFF });
  const second = createBridge({ client, labels: { agent_id: "same" }, backoff: FAST_BACKOFF });
  try {
    let connects = 0;
    first.maintainWebSocket("c", service.url, {
      onConnect: () => {
        connects += 1;
      },
    });
    second.maintainWebSocket("c", service.url, {
      onConnect: () => {
        connects += 1;
      },
    });
    await eventually(() => connects === 2, 3_000, "both bridges connected");
    assert.equal(first.metrics.registry, second.metrics.registry);
    assert.equal(await metricValue(registry, "bridge_connections_total", { agent_id: "same", transport: "websocket" }), 2);
  } finally {
    await first.stop();
    await second.stop();
    client.close();
    await service.close();
    await nexus.close();
  }
});
