/**
 * WatchConnections across replicas on one PostgreSQL database: replica A is this process's server,
 * replica B a real `node server/main.ts`. An event written on A reaches a watcher on B (and one
 * written on B a watcher on A) through LISTEN/NOTIFY, not a heartbeat (heartbeats are hourly on
 * both); a client that drops its stream on A resumes on B from its cursor with no gap and no
 * duplicate.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ConnectionService } from "../gen/nexus/v1/connections_pb.ts";
import { ConnectionEventType } from "../gen/nexus/v1/events_pb.ts";
import { generateKeyringText } from "../server/vault/keyring.ts";
import { createKeyProvider, PROVIDER } from "./support/access-fixtures.ts";
import { eventClient, recordWatch } from "./support/connection-watchers.ts";
import { type ReplicaProcess, spawnReplica } from "./support/replica-process.ts";
import { startServer, TEST_TENANT, type TestServer } from "./support/start-server.ts";
import { TEST_STORE } from "./support/test-store.ts";

const HOURLY = "3600000";

describe("test/watch-connections-replicas.test.ts", {
  skip: TEST_STORE === "postgres" ? false : "PostgreSQL only: replicas share a database (NEXUS_TEST_STORE=postgres)",
}, () => {
  let a: TestServer;
  let b: ReplicaProcess;
  before(async () => {
    const keys = generateKeyringText("k1");
    a = await startServer({ env: { NEXUS_ENCRYPTION_KEYS: keys, NEXUS_WATCH_HEARTBEAT_MS: HOURLY } });
    await createKeyProvider(a);
    b = await spawnReplica({
      DATABASE_URL: a.storeEnv.DATABASE_URL!,
      NEXUS_ENCRYPTION_KEYS: keys,
      NEXUS_ADMIN_API_KEY: a.adminKey,
      NEXUS_WATCH_HEARTBEAT_MS: HOURLY,
    });
  });
  after(async () => {
    await b?.stop();
    await a?.close();
  });

  const pending = async () => (await a.app.store.createConnection({ tenantId: TEST_TENANT, userId: "u", providerName: PROVIDER })).id;

  test("an event written on replica A reaches a watcher on replica B, and one written on B a watcher on A", async () => {
    const onB = recordWatch(eventClient(b.baseUrl, a.agentKey));
    const onA = recordWatch(eventClient(a.baseUrl, a.agentKey));
    try {
      await Promise.all([onB.live(), onA.live()]);
      const startedMs = Date.now();
      const id = await pending(); // written on A
      await onB.untilEvents(1, 5_000);
      const crossMs = Date.now() - startedMs;
      // Written on B: RevokeConnection served by the other process.
      const revokeOnB = createClient(ConnectionService, createGrpcTransport({ baseUrl: b.baseUrl, interceptors: [a.bearer()] }));
      await revokeOnB.revokeConnection({ connectionId: id });
      await onA.untilEvents(2, 5_000);
      await onB.untilEvents(2, 5_000);
      for (const w of [onA, onB]) {
        assert.deepEqual(
          w.events().map((e) => [e.connection?.connectionId, e.type]),
          [
            [id, ConnectionEventType.CREATED],
            [id, ConnectionEventType.REVOKED],
          ],
        );
        assert.equal(w.heartbeats(), 1, "delivered by notification, not by a heartbeat's catch-up");
      }
      assert.deepEqual(
        onA.events().map((e) => e.cursor),
        onB.events().map((e) => e.cursor),
        "cursors are the same on every replica",
      );
      assert.ok(crossMs < 5_000, `A → B took ${crossMs} ms`);
    } finally {
      onA.stop();
      onB.stop();
    }
  });

  test("a stream dropped on A resumes on B from its cursor: no gap, no duplicate", async () => {
    const onA = recordWatch(eventClient(a.baseUrl, a.agentKey));
    await onA.live();
    const first = await pending();
    const [created] = await onA.untilEvents(1);
    onA.stop();
    await onA.ended;
    await a.app.store.updateConnectionStatus(TEST_TENANT, first, "pending", "active", null); // missed
    const onB = recordWatch(eventClient(b.baseUrl, a.agentKey), { afterCursor: created!.cursor });
    try {
      await onB.live();
      const second = await pending(); // live, written on A
      await onB.untilEvents(2);
      assert.deepEqual(
        onB.events().map((e) => [e.connection?.connectionId, e.type]),
        [
          [first, ConnectionEventType.ACTIVE],
          [second, ConnectionEventType.CREATED],
        ],
      );
    } finally {
      onB.stop();
    }
  });
});
