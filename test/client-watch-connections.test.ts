/**
 * The client's watchConnections against the real server (test backend: SQLite or PostgreSQL): a
 * connection cut mid-stream (a TCP proxy in front of Nexus drops every socket and refuses new ones
 * for a while) is reconnected with backoff and resumed from the last cursor, with no gap and no
 * duplicate; a silent network (blackhole) is noticed by missed heartbeats and resumed the same way;
 * an expired cursor is thrown, not retried; the README's "wait for active without polling" pattern.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ConnectError } from "@connectrpc/connect";
import {
  type ConnectionEvent,
  ConnectionEventType,
  ConnectionStatus,
  createNexusClient,
  ErrorReason,
  errorInfo,
  type NexusClient,
} from "../client/index.ts";
import { encodeEventCursor } from "../server/watch/event-cursor.ts";
import { createKeyProvider, PROVIDER } from "./support/access-fixtures.ts";
import { FAST_BACKOFF, memoryLogger } from "./support/client-test-kit.ts";
import { startServer, TEST_TENANT, type TestServer } from "./support/start-server.ts";
import { startTcpProxy, type TcpProxy } from "./support/tcp-proxy.ts";
import { eventually, within } from "./support/wait.ts";

describe("test/client-watch-connections.test.ts", () => {
  let server: TestServer;
  let proxy: TcpProxy;
  const clients: NexusClient[] = [];
  before(async () => {
    server = await startServer({ env: { NEXUS_WATCH_HEARTBEAT_MS: "1000" } });
    await createKeyProvider(server);
    proxy = await startTcpProxy({ host: "127.0.0.1", port: Number(new URL(server.baseUrl).port) });
  });
  after(async () => {
    for (const c of clients) c.close();
    await proxy?.close();
    await server?.close();
  });

  function client(logger = memoryLogger()): NexusClient {
    const c = createNexusClient({
      baseUrl: `http://127.0.0.1:${proxy.port}`,
      apiKey: server.agentKey,
      protocol: "grpc",
      logger,
      watch: { backoff: FAST_BACKOFF, heartbeatIntervalMs: 1000, missedHeartbeats: 2 },
    });
    clients.push(c);
    return c;
  }

  const pending = async () => (await server.app.store.createConnection({ tenantId: TEST_TENANT, userId: "u", providerName: PROVIDER })).id;
  const activate = (id: string) => server.app.store.updateConnectionStatus(TEST_TENANT, id, "pending", "active", null);

  /** Consumes a watch into an array until `signal` aborts; resolves with its error, if any. */
  function consume(source: AsyncGenerator<ConnectionEvent>, into: ConnectionEvent[]): Promise<unknown> {
    return (async () => {
      try {
        for await (const event of source) into.push(event);
        return undefined;
      } catch (error) {
        return error;
      }
    })();
  }

  for (const cut of ["outage", "blackhole"] as const) {
    test(`${cut === "outage" ? "an outage" : "a blackhole"} mid-stream: reconnected, resumed from the last cursor, no gap, no duplicate`, async () => {
      const logger = memoryLogger();
      const stop = new AbortController();
      const cursors: string[] = [];
      const received: ConnectionEvent[] = [];
      const start = await server.app.store.latestConnectionEventSeq(TEST_TENANT);
      const done = consume(
        client(logger).watchConnections({ afterCursor: encodeEventCursor(start), signal: stop.signal, onCursor: (c) => cursors.push(c) }),
        received,
      );
      try {
        const a = await pending();
        await activate(a);
        await eventually(() => received.length === 2, 10_000, "the first two events");
        const acceptedBefore = proxy.accepted();
        if (cut === "outage") await proxy.outage();
        else proxy.blackhole();
        // Committed while the client cannot hear.
        const b = await pending();
        await activate(b);
        await server.app.store.updateConnectionStatus(TEST_TENANT, a, "active", "revoked", "revoked_by_api");
        if (cut === "blackhole") {
          // Two missed heartbeats (2 s) make the client give up on the silent stream.
          await eventually(() => logger.lines.some((l) => l.includes('is_silent":true')), 10_000, "the silence noticed");
        }
        await proxy.restore();
        const c = await pending();
        await eventually(() => received.length >= 6, 15_000, "every event after the reconnect");
        assert.ok(
          logger.lines.some((l) => l.includes("connection watch interrupted; reconnecting")),
          "the client opened a new stream",
        );
        // An outage cuts the sockets; after a blackhole the HTTP/2 session itself may survive.
        if (cut === "outage") assert.ok(proxy.accepted() > acceptedBefore, "the client reconnected");

        const log = await server.app.store.listConnectionEvents({ tenantId: TEST_TENANT, afterSeq: start, limit: 100 });
        assert.deepEqual(
          received.map((e) => e.eventId),
          log.map((e) => e.eventId),
          "exactly the log, in order: no gap, no duplicate",
        );
        assert.deepEqual(
          received.map((e) => [e.connection?.connectionId, e.type]),
          [
            [a, ConnectionEventType.CREATED],
            [a, ConnectionEventType.ACTIVE],
            [b, ConnectionEventType.CREATED],
            [b, ConnectionEventType.ACTIVE],
            [a, ConnectionEventType.REVOKED],
            [c, ConnectionEventType.CREATED],
          ],
        );
        assert.ok(cursors.includes(received.at(-1)!.cursor), "onCursor saw the last event's cursor");
      } finally {
        stop.abort();
        assert.equal(await within(done, 5_000, "the watch ending"), undefined, "an abort ends the watch without an error");
        await proxy.restore();
      }
    });
  }

  test("an expired cursor is thrown (EVENT_CURSOR_EXPIRED), not retried", async () => {
    const id = await pending();
    await activate(id);
    await server.app.store.deleteConnectionEventsBefore(new Date(Date.now() + 60_000));
    const error = await consume(client().watchConnections({ afterCursor: encodeEventCursor(0) }), []);
    assert.ok(error instanceof ConnectError, String(error));
    assert.equal(errorInfo(error)?.reason, ErrorReason.EVENT_CURSOR_EXPIRED);
  });

  test("README: a backend waits for active without polling, even when consent finished before it watched", async () => {
    const nexus = client();
    const connectionId = await pending(); // as RequestConnection does
    await activate(connectionId); // the user was quick: consent finished before the backend watched
    const signal = AbortSignal.timeout(10_000);
    let status: ConnectionStatus | undefined;
    for await (const event of nexus.watchConnections({ connectionId, replayRetained: true, signal })) {
      status = event.connection?.status;
      if (status === ConnectionStatus.ACTIVE || status === ConnectionStatus.FAILED) break;
    }
    assert.equal(status, ConnectionStatus.ACTIVE);
  });
});
