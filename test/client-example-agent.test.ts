/**
 * Runs examples/agent.ts (the README's translated Go example) against a scripted Nexus and a
 * local token-checking WebSocket service, so the documented example keeps working.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runAgent } from "../examples/agent.ts";
import { eventually, memoryLogger, within } from "./support/client-test-kit.ts";
import { startScriptedNexus } from "./support/scripted-nexus.ts";
import { startTokenWebSocketService } from "./support/token-websocket-service.ts";

test("the example agent connects, subscribes, re-authenticates on rotation and exports metrics", async () => {
  const nexus = await startScriptedNexus({ heartbeatIntervalMs: 50 });
  nexus.addConnection("conn-example");
  const service = await startTokenWebSocketService(() => `tok-conn-example-v${nexus.credential("conn-example").version}`);
  const logger = memoryLogger();
  const agent = await runAgent({
    nexusUrl: nexus.baseUrl,
    apiKey: "key-1",
    connectionId: "conn-example",
    streamUrl: service.url,
    agentId: "my-stable-id",
    metricsPort: 0,
    logger,
  });
  try {
    await eventually(() => service.messages.length === 1, 3_000, "subscription sent");
    assert.deepEqual(JSON.parse(service.messages[0]!), { type: "subscribe", channel: "events" });
    nexus.rotate("conn-example");
    await eventually(() => service.messages.length === 2, 3_000, "re-subscribed after rotation");
    assert.deepEqual(
      service.handshakes.map((h) => h.token),
      ["tok-conn-example-v1", "tok-conn-example-v2"],
    );

    const body = await (await fetch(agent.metricsUrl)).text();
    assert.match(body, /bridge_connections_total\{agent_id="my-stable-id",connection_id="conn-example",transport="websocket"\} 2/);
    assert.match(body, /bridge_token_refreshes_total\{agent_id="my-stable-id",connection_id="conn-example",transport="websocket"\} 1/);
    assert.ok(logger.lines.some((l) => l.includes('"version":2') && l.includes("credential received")));
    assert.ok(!logger.lines.join("\n").includes("tok-conn-example"), "no token logged");
  } finally {
    await within(agent.stop());
    await service.close();
    await nexus.close();
  }
});
