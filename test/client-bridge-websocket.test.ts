/**
 * Bridge.maintainWebSocket against a scripted Nexus and a local ws service that accepts only the
 * current token: connect and echo, reconnect after a server-side close, re-authenticate after a
 * rotation, forced refresh after a 401 handshake, permanent close codes, revocation, ping
 * timeouts and a clean stop — with the bridge metrics checked along the way.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { Registry } from "prom-client";
import {
  type Bridge,
  ConnectionRevokedError,
  createBridge,
  createNexusClient,
  type DisconnectEvent,
  type NexusClient,
  PermanentCloseError,
  type WebSocketHandler,
} from "../client/index.ts";
import { ConnectionStatus } from "../gen/nexus/v1/status_pb.ts";
import { eventually, FAST_BACKOFF, memoryLogger, within } from "./support/client-test-kit.ts";
import { metricValue } from "./support/metric-value.ts";
import { type ScriptedNexus, startScriptedNexus } from "./support/scripted-nexus.ts";
import { startTokenWebSocketService, type TokenWebSocketService } from "./support/token-websocket-service.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/client-bridge-websocket.test.ts", () => {
  let nexus: ScriptedNexus;
  let service: TokenWebSocketService;
  let client: NexusClient;
  let registry: Registry;
  let bridge: Bridge;
  let logger: ReturnType<typeof memoryLogger>;

  beforeEach(async () => {
    nexus = await startScriptedNexus({ heartbeatIntervalMs: 50 });
    nexus.addConnection("c");
    service = await startTokenWebSocketService(() => `tok-c-v${nexus.credential("c").version}`);
    registry = new Registry();
    logger = memoryLogger();
    client = createNexusClient({ baseUrl: nexus.baseUrl, apiKey: "key-1", registry, logger, watch: { backoff: FAST_BACKOFF } });
    bridge = createBridge({ client, labels: { agent_id: "agent-7" }, backoff: FAST_BACKOFF });
  });
  afterEach(async () => {
    await bridge.stop();
    client.close();
    await service.close();
    await nexus.close();
    assert.ok(!logger.lines.join("\n").includes("tok-c-"), "no token in any log line");
  });

  function recordingHandler() {
    const received: string[] = [];
    const disconnects: DisconnectEvent[] = [];
    let connects = 0;
    let lastSend: ((data: string) => void) | undefined;
    const handler: WebSocketHandler = {
      onConnect(send) {
        connects += 1;
        lastSend = send;
        send(`hello-${connects}`);
      },
      onMessage: (data) => void received.push(String(data)),
      onDisconnect: (event) => void disconnects.push(event),
    };
    return { handler, received, disconnects, connects: () => connects, send: (data: string) => lastSend?.(data) };
  }

  const labels = { agent_id: "agent-7", connection_id: "c", transport: "websocket" };

  test("connects with the current token, talks, and records the connection", async () => {
    const h = recordingHandler();
    bridge.maintainWebSocket("c", service.url, h.handler);
    await eventually(() => h.received.includes("echo:hello-1"), 3_000, "echo");
    assert.deepEqual(service.handshakes, [{ token: "tok-c-v1", isAccepted: true }]);
    assert.equal(await metricValue(registry, "bridge_connections_total", labels), 1);
    assert.equal(await metricValue(registry, "bridge_connection_status", labels), 1);
    assert.equal(await metricValue(registry, "bridge_credential_age_seconds", labels), 1, "one age observation");
  });

  test("reconnects after a server-side close", async () => {
    const h = recordingHandler();
    bridge.maintainWebSocket("c", service.url, h.handler);
    await eventually(() => service.sockets.length === 1);
    service.closeAll(1011, "server restarting");
    await eventually(() => h.connects() === 2, 3_000, "reconnect");
    assert.deepEqual(
      h.disconnects.map((d) => [d.code, d.cause, d.willReconnect]),
      [[1011, "remote", true]],
    );
    assert.equal(await metricValue(registry, "bridge_connections_total", labels), 2);
    assert.equal(await metricValue(registry, "bridge_disconnects_total", labels), 1);
    assert.equal(await metricValue(registry, "bridge_reconnect_delay_seconds", labels), 1);
    assert.equal(await metricValue(registry, "bridge_connection_status", labels), 1);
  });

  test("re-authenticates by reconnecting when the credential rotates", async () => {
    const h = recordingHandler();
    bridge.maintainWebSocket("c", service.url, h.handler);
    await eventually(() => service.sockets.length === 1);
    nexus.rotate("c");
    await eventually(() => service.handshakes.length === 2 && service.sockets.length === 1, 3_000, "re-auth");
    assert.deepEqual(service.handshakes, [
      { token: "tok-c-v1", isAccepted: true },
      { token: "tok-c-v2", isAccepted: true },
    ]);
    assert.deepEqual(
      h.disconnects.map((d) => [d.cause, d.willReconnect]),
      [["rotation", true]],
    );
    assert.deepEqual(service.clientCloses, [1000]);
    assert.equal(await metricValue(registry, "bridge_token_refreshes_total", labels), 1);
  });

  test("reconnectOnRotation: false keeps the open socket", async () => {
    const h = recordingHandler();
    bridge.maintainWebSocket("c", service.url, h.handler, { reconnectOnRotation: false });
    await eventually(() => service.sockets.length === 1);
    nexus.rotate("c");
    await eventually(
      async () => (await metricValue(registry, "bridge_token_refreshes_total", labels)) === 1,
      3_000,
      "the link saw the rotation",
    );
    // The link has handled the rotation; a message sent now is echoed only if the socket stayed open.
    h.send("after-rotation");
    await eventually(() => h.received.includes("echo:after-rotation"), 3_000, "echo on the first socket");
    assert.equal(service.handshakes.length, 1);
    assert.deepEqual(h.disconnects, []);
  });

  test("a 401 handshake forces one refresh, then connects with the new token (polling fallback without watch)", async () => {
    nexus.watchMode = "unimplemented";
    await client.getCredential("c"); // v1 cached
    nexus.rotate("c"); // the service now wants v2
    const h = recordingHandler();
    bridge.maintainWebSocket("c", service.url, h.handler);
    await eventually(() => h.connects() === 1, 3_000, "connected after refresh");
    assert.deepEqual(service.handshakes, [
      { token: "tok-c-v1", isAccepted: false },
      { token: "tok-c-v3", isAccepted: true }, // RefreshConnection rotated v2 → v3
    ]);
    assert.equal(nexus.calls.refreshConnection, 1);
  });

  test("a permanent close code stops the bridge with PermanentCloseError", async () => {
    const h = recordingHandler();
    const handle = bridge.maintainWebSocket("c", service.url, h.handler);
    await eventually(() => service.sockets.length === 1);
    service.closeAll(4001, "account disabled");
    const err = await within(
      handle.done.then(
        () => undefined,
        (e: unknown) => e,
      ),
    );
    assert.ok(err instanceof PermanentCloseError);
    assert.equal(err.code, 4001);
    assert.equal(err.reason, "account disabled");
    assert.deepEqual(
      h.disconnects.map((d) => d.willReconnect),
      [false],
    );
    // done settles only after the link loop (the one place that connects) has returned.
    assert.equal(service.handshakes.length, 1, "no reconnect");
    assert.equal(await metricValue(registry, "bridge_connection_status", labels), 0);
  });

  test("the permanent list is configurable (and 1008 is permanent by default)", async () => {
    const h = recordingHandler();
    const handle = bridge.maintainWebSocket("c", service.url, h.handler, { permanentCloseCodes: [4500] });
    await eventually(() => service.sockets.length === 1);
    service.closeAll(4001);
    await eventually(() => h.connects() === 2, 3_000, "4001 is not permanent here");
    service.closeAll(4500);
    await assert.rejects(within(handle.done), (e: unknown) => e instanceof PermanentCloseError && e.code === 4500);

    await eventually(() => service.sockets.length === 0, 3_000, "first link gone");
    const second = recordingHandler();
    const other = bridge.maintainWebSocket("c", service.url, second.handler);
    await eventually(() => second.connects() === 1 && service.sockets.length === 1, 3_000, "second link up");
    service.closeAll(1008, "policy");
    await assert.rejects(within(other.done), (e: unknown) => e instanceof PermanentCloseError && e.code === 1008);
  });

  test("revocation stops the bridge with ConnectionRevokedError and closes the socket", async () => {
    const h = recordingHandler();
    const handle = bridge.maintainWebSocket("c", service.url, h.handler);
    await eventually(() => service.sockets.length === 1);
    nexus.setStatus("c", ConnectionStatus.REVOKED);
    const err = await within(
      handle.done.then(
        () => undefined,
        (e: unknown) => e,
      ),
    );
    assert.ok(err instanceof ConnectionRevokedError);
    await eventually(() => service.sockets.length === 0, 3_000, "socket closed");
    assert.deepEqual(
      h.disconnects.map((d) => [d.cause, d.willReconnect]),
      [["stop", false]],
    );
    assert.equal(await metricValue(registry, "bridge_connection_status", labels), 0);
  });

  test("a peer that stops answering pings is dropped and reconnected", async () => {
    const h = recordingHandler();
    bridge.maintainWebSocket("c", service.url, h.handler, { pingIntervalMs: 40 });
    await eventually(() => service.sockets.length === 1);
    // Stop reading the first socket: the server never sees (or answers) the client's pings.
    (service.sockets[0] as unknown as { _socket: { pause(): void } })._socket.pause();
    await eventually(() => h.connects() === 2, 3_000, "reconnect after ping timeout");
    assert.equal(h.disconnects[0]?.cause, "ping-timeout");
  });

  test("stop() closes cleanly with 1000, resolves done, and never reconnects", async () => {
    const h = recordingHandler();
    const handle = bridge.maintainWebSocket("c", service.url, h.handler);
    await eventually(() => service.sockets.length === 1);
    await within(handle.stop());
    await within(handle.done);
    await eventually(() => service.clientCloses.length === 1);
    assert.deepEqual(service.clientCloses, [1000]);
    // done settles only after the link loop (the one place that connects) has returned.
    assert.equal(service.handshakes.length, 1);
    await eventually(() => nexus.openWatches() === 0, 3_000, "the credential watch was closed too");
  });

  test("the caller's AbortSignal stops the link; an unreachable service is retried until then", async () => {
    const abort = new AbortController();
    const handle = bridge.maintainWebSocket("c", "ws://127.0.0.1:1/nothing?api_key=secret-in-query", recordingHandler().handler, {
      signal: abort.signal,
    });
    await eventually(() => logger.lines.filter((l) => l.includes("websocket connect failed")).length >= 2, 3_000, "retries");
    abort.abort();
    await within(handle.done);
    assert.ok(!logger.lines.join("\n").includes("secret-in-query"), "the URL query is never logged");
  });
});
