/**
 * WatchConnections end to end (test backend: SQLite, or PostgreSQL with NEXUS_TEST_STORE=postgres):
 * one event per committed connection change, in order; a client that disconnects mid-stream resumes
 * from its cursor with no gap and no duplicate (gRPC, gRPC-Web and Connect); tenant isolation; a
 * connection filter with the replay of retained events; heartbeats; a revoked key ends the stream;
 * malformed, expired and unknown cursors are refused with their reasons. Heartbeats are hourly
 * on the main server, so every live delivery here is the wake-up after a commit, not a
 * heartbeat's catch-up read.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ApiKeyService } from "../gen/nexus/v1/api_keys_pb.ts";
import { ConnectionService } from "../gen/nexus/v1/connections_pb.ts";
import { ErrorInfoSchema, ErrorReason } from "../gen/nexus/v1/errors_pb.ts";
import { type ConnectionEvent, ConnectionEventType } from "../gen/nexus/v1/events_pb.ts";
import { ConnectionStatus } from "../gen/nexus/v1/status_pb.ts";
import { encodeEventCursor } from "../server/watch/event-cursor.ts";
import { createKeyProvider, PROVIDER, secretValue, seedConnection } from "./support/access-fixtures.ts";
import { eventClient, recordWatch, type StreamProtocol } from "./support/connection-watchers.ts";
import { startServer, TEST_TENANT, type TestServer } from "./support/start-server.ts";

function reasonOf(error: unknown): ErrorReason | undefined {
  const details = (error as { details?: { type: string; value: Uint8Array }[] }).details ?? [];
  const detail = details.find((d) => d.type === ErrorInfoSchema.typeName);
  return detail ? fromBinary(ErrorInfoSchema, detail.value).reason : undefined;
}

function typesOf(events: ConnectionEvent[]): ConnectionEventType[] {
  return events.map((e) => e.type);
}

describe("test/watch-connections.test.ts", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ env: { NEXUS_WATCH_HEARTBEAT_MS: "3600000" } });
    await createKeyProvider(server);
  });
  after(() => server?.close());

  /** A pending connection of `tenantId`, created through the (publishing) store as consent does. */
  async function createPending(tenantId = TEST_TENANT, userId = "user-1"): Promise<string> {
    await server.app.store.ensureTenant({ id: tenantId });
    return (await server.app.store.createConnection({ tenantId, userId, providerName: PROVIDER })).id;
  }
  const activate = (id: string, tenantId = TEST_TENANT) => server.app.store.updateConnectionStatus(tenantId, id, "pending", "active", null);

  test("one event per change, in commit order, with the connection snapshot and no secret", async () => {
    const secret = secretValue("event-secret");
    const watch = recordWatch(eventClient(server.baseUrl, server.agentKey));
    try {
      await watch.live();
      const id = await seedConnection(server, TEST_TENANT, secret); // created (active), credential saved
      const revoked = await createClient(
        ConnectionService,
        createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [server.bearer()] }),
      ).revokeConnection({ connectionId: id });
      assert.equal(revoked.connection?.status, ConnectionStatus.REVOKED);
      const pending = await createPending();
      await activate(pending);

      const events = await watch.untilEvents(4);
      assert.deepEqual(typesOf(events), [
        ConnectionEventType.CREATED,
        ConnectionEventType.REVOKED,
        ConnectionEventType.CREATED,
        ConnectionEventType.ACTIVE,
      ]);
      assert.deepEqual(
        events.map((e) => e.connection?.connectionId),
        [id, id, pending, pending],
      );
      const [created, revokedEvent, , active] = events;
      assert.equal(created?.connection?.status, ConnectionStatus.ACTIVE, "created with status active (a seeded connection)");
      assert.equal(revokedEvent?.connection?.status, ConnectionStatus.REVOKED);
      assert.equal(revokedEvent?.connection?.statusReason, "revoked_by_api");
      assert.equal(active?.connection?.status, ConnectionStatus.ACTIVE);
      assert.equal(active?.connection?.tenantId, TEST_TENANT);
      assert.equal(active?.connection?.providerName, PROVIDER);
      assert.ok(events.every((e) => /^evt_[0-9A-Za-z]{22}$/.test(e.eventId)));
      assert.equal(new Set(events.map((e) => e.eventId)).size, 4);
      assert.equal(new Set(events.map((e) => e.cursor)).size, 4, "every event has its own cursor");
      const eventMessages = watch.messages.filter((m) => m.event.case === "connectionEvent");
      assert.ok(eventMessages.every((m) => m.event.case === "connectionEvent" && m.cursor === m.event.value.cursor));
      assert.ok(!JSON.stringify(watch.messages, (_k, v) => (typeof v === "bigint" ? String(v) : v)).includes(secret), "no secret");
      assert.equal(watch.heartbeats(), 1, "only the live marker: the next heartbeat is an hour away");
    } finally {
      watch.stop();
    }
  });

  for (const protocol of ["grpc", "grpc-web", "connect"] satisfies StreamProtocol[]) {
    test(`a client that disconnects mid-stream resumes from its cursor with no gap and no duplicate (${protocol})`, async () => {
      const client = eventClient(server.baseUrl, server.agentKey, protocol);
      const first = recordWatch(client);
      await first.live();
      const a = await createPending();
      await activate(a);
      const seen = await first.untilEvents(2);
      first.stop();
      assert.equal(await first.ended, undefined);
      const resumeAfter = seen[1]!.cursor;

      // Missed while disconnected: three changes.
      const b = await createPending();
      await activate(b);
      await server.app.store.updateConnectionStatus(TEST_TENANT, a, "active", "revoked", "revoked_by_api");

      const resumed = recordWatch(client, { afterCursor: resumeAfter });
      const fromFirst = recordWatch(client, { afterCursor: seen[0]!.cursor });
      try {
        await resumed.live();
        await fromFirst.live();
        assert.deepEqual(
          resumed.events().map((e) => [e.connection?.connectionId, e.type]),
          [
            [b, ConnectionEventType.CREATED],
            [b, ConnectionEventType.ACTIVE],
            [a, ConnectionEventType.REVOKED],
          ],
          "exactly the missed events, before the live marker",
        );
        assert.equal(resumed.messages[3]?.event.case, "heartbeat");
        assert.equal(resumed.messages[3]?.cursor, resumed.messages[2]?.cursor, "the live marker's cursor is the last event's");
        assert.deepEqual(
          typesOf(fromFirst.events()),
          [ConnectionEventType.ACTIVE, ConnectionEventType.CREATED, ConnectionEventType.ACTIVE, ConnectionEventType.REVOKED],
          "resuming from the first event's cursor replays from the second",
        );

        // Live after the replay: the next change arrives once on both.
        const c = await createPending();
        await resumed.untilEvents(4);
        await fromFirst.untilEvents(5);
        await server.app.store.updateConnectionStatus(TEST_TENANT, c, "pending", "failed", "access_denied");
        await resumed.untilEvents(5);
        await fromFirst.untilEvents(6);
        const ids = resumed.events().map((e) => e.eventId);
        assert.equal(new Set(ids).size, ids.length, "no duplicate");
        assert.deepEqual(typesOf(resumed.events()).slice(3), [ConnectionEventType.CREATED, ConnectionEventType.FAILED]);
        assert.equal(resumed.events()[4]?.connection?.statusReason, "access_denied");
        assert.deepEqual(
          fromFirst
            .events()
            .slice(1)
            .map((e) => e.eventId),
          ids,
          "both streams agree event by event",
        );
      } finally {
        resumed.stop();
        fromFirst.stop();
      }
    });
  }

  test("tenant isolation: an agent sees only its tenant; admins must name one; foreign connections are not found", async () => {
    const other = "tenant-y";
    const agentY = await server.createKey({ role: "agent", tenantId: other, name: "agent Y" });
    const watchX = recordWatch(eventClient(server.baseUrl, server.agentKey));
    const watchY = recordWatch(eventClient(server.baseUrl, agentY.secret));
    const adminY = recordWatch(eventClient(server.baseUrl, server.adminKey), { tenantId: other });
    try {
      await Promise.all([watchX.live(), watchY.live(), adminY.live()]);
      const y = await createPending(other);
      const x = await createPending(TEST_TENANT);
      await activate(y, other);
      await watchX.untilEvents(1);
      await watchY.untilEvents(2);
      await adminY.untilEvents(2);
      // One more change of X closes the window: a stream is ordered, so a leaked Y event would be before it.
      await activate(x);
      await watchX.untilEvents(2);
      assert.deepEqual(
        watchX.events().map((e) => e.connection?.connectionId),
        [x, x],
      );
      assert.ok(watchX.events().every((e) => e.connection?.tenantId === TEST_TENANT));
      for (const w of [watchY, adminY]) {
        assert.deepEqual(
          w.events().map((e) => e.connection?.connectionId),
          [y, y],
        );
      }

      const naming = recordWatch(eventClient(server.baseUrl, server.agentKey), { tenantId: other });
      const nameless = recordWatch(eventClient(server.baseUrl, server.adminKey));
      const foreign = recordWatch(eventClient(server.baseUrl, server.agentKey), { connectionId: y });
      const [namingError, namelessError, foreignError] = await Promise.all([naming.ended, nameless.ended, foreign.ended]);
      assert.equal(namingError?.code, Code.PermissionDenied);
      assert.equal(reasonOf(namingError), ErrorReason.TENANT_NOT_ALLOWED);
      assert.equal(namelessError?.code, Code.InvalidArgument);
      assert.equal(foreignError?.code, Code.NotFound);
      assert.equal(reasonOf(foreignError), ErrorReason.CONNECTION_NOT_FOUND);
    } finally {
      for (const w of [watchX, watchY, adminY]) w.stop();
    }
  });

  test("a connection filter with replay_retained: that connection's whole history, then live", async () => {
    const id = await createPending();
    const noise = await createPending();
    await activate(id);
    const watch = recordWatch(eventClient(server.baseUrl, server.agentKey), { connectionId: id, replayRetained: true });
    try {
      await watch.live();
      assert.deepEqual(typesOf(watch.events()), [ConnectionEventType.CREATED, ConnectionEventType.ACTIVE]);
      await activate(noise);
      await server.app.store.updateConnectionStatus(TEST_TENANT, id, "active", "expired", null);
      await watch.untilEvents(3);
      assert.deepEqual(typesOf(watch.events()), [ConnectionEventType.CREATED, ConnectionEventType.ACTIVE, ConnectionEventType.EXPIRED]);
      assert.ok(watch.events().every((e) => e.connection?.connectionId === id));
      // The live marker's cursor (and a resume from it) is past the other connection's events too.
      const resumed = recordWatch(eventClient(server.baseUrl, server.agentKey), { connectionId: id, afterCursor: watch.lastCursor() });
      await resumed.live();
      assert.deepEqual(resumed.events(), []);
      resumed.stop();
    } finally {
      watch.stop();
    }
  });

  test("a revoked key ends its stream with unauthenticated API_KEY_REVOKED", async () => {
    const key = await server.createKey({ role: "agent", tenantId: TEST_TENANT, name: "to revoke" });
    const watch = recordWatch(eventClient(server.baseUrl, key.secret));
    await watch.live();
    const admin = createClient(
      ApiKeyService,
      createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [server.bearer(server.adminKey)] }),
    );
    await admin.revokeApiKey({ keyId: key.keyId });
    const error = await watch.ended;
    assert.equal(error?.code, Code.Unauthenticated);
    assert.equal(reasonOf(error), ErrorReason.API_KEY_REVOKED);
  });

  test("malformed, unknown and expired cursors are refused with their reasons", async () => {
    const client = eventClient(server.baseUrl, server.agentKey);
    const malformed = await recordWatch(client, { afterCursor: "not-a-cursor" }).ended;
    assert.equal(malformed?.code, Code.InvalidArgument);
    assert.equal(reasonOf(malformed), ErrorReason.INVALID_FIELD);
    assert.match(malformed?.rawMessage ?? "", /after_cursor/);
    const both = await recordWatch(client, { afterCursor: encodeEventCursor(0), replayRetained: true }).ended;
    assert.equal(both?.code, Code.InvalidArgument);

    const latest = await server.app.store.latestConnectionEventSeq(TEST_TENANT);
    const unknown = await recordWatch(client, { afterCursor: encodeEventCursor(latest + 1000) }).ended;
    assert.equal(unknown?.code, Code.FailedPrecondition);
    assert.equal(reasonOf(unknown), ErrorReason.EVENT_CURSOR_UNKNOWN);

    // Retention deletes the events after an old cursor: it is expired; the newest one still works.
    const oldCursor = encodeEventCursor(1);
    const id = await createPending();
    await activate(id);
    const pruned = await server.app.store.deleteConnectionEventsBefore(new Date(Date.now() + 60_000));
    assert.ok(pruned > 0);
    const expired = await recordWatch(client, { afterCursor: oldCursor }).ended;
    assert.equal(expired?.code, Code.FailedPrecondition);
    assert.equal(reasonOf(expired), ErrorReason.EVENT_CURSOR_EXPIRED);
    const current = recordWatch(client, { afterCursor: encodeEventCursor(await server.app.store.latestConnectionEventSeq(TEST_TENANT)) });
    await current.live();
    current.stop();
  });
});

describe("test/watch-connections.test.ts heartbeats", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ env: { NEXUS_WATCH_HEARTBEAT_MS: "1000" } });
  });
  after(() => server?.close());

  test("an idle stream carries periodic heartbeats, each with the current cursor", async () => {
    const watch = recordWatch(eventClient(server.baseUrl, server.agentKey));
    try {
      await watch.until((w) => w.heartbeats() >= 3, "three heartbeats");
      assert.deepEqual(watch.events(), []);
      const cursors = new Set(watch.messages.map((m) => m.cursor));
      assert.equal(cursors.size, 1, "nothing happened: the cursor stays");
    } finally {
      watch.stop();
    }
  });
});
