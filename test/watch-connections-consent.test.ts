/**
 * WatchConnections over the real consent path (oidc-provider as the IdP, test backend SQLite or
 * PostgreSQL): RequestConnection and the browser's consent produce created then active; the access
 * token never appears on the stream; ReconnectConnection produces pending and the second consent
 * active again; RevokeConnection produces revoked. One event per change, nothing else.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ConnectionService } from "../gen/nexus/v1/connections_pb.ts";
import { ConnectionEventType } from "../gen/nexus/v1/events_pb.ts";
import { ConnectionStatus } from "../gen/nexus/v1/status_pb.ts";
import { TokenService } from "../gen/nexus/v1/tokens_pb.ts";
import { eventClient, recordWatch } from "./support/connection-watchers.ts";
import { driveConsent } from "./support/consent-driver.ts";
import { type RefreshRig, startRefreshRig } from "./support/refresh-rig.ts";

describe("test/watch-connections-consent.test.ts", () => {
  let rig: RefreshRig;
  before(async () => {
    rig = await startRefreshRig({ accessTtlSeconds: 3600, env: { NEXUS_WATCH_HEARTBEAT_MS: "3600000" } });
  });
  after(() => rig?.close());

  test("consent, re-consent and revocation: created, active, pending, active, revoked — and no token on the stream", async () => {
    const watch = recordWatch(eventClient(rig.server.baseUrl, rig.server.agentKey));
    try {
      await watch.live();
      const connectionId = await rig.connect("watched-user");
      await watch.untilEvents(2);
      const transport = createGrpcTransport({ baseUrl: rig.server.baseUrl, interceptors: [rig.server.bearer()] });
      const { credential } = await createClient(TokenService, transport).getToken({ connectionId });
      const accessToken = String(credential?.credentials?.access_token ?? "");
      assert.ok(accessToken.length > 10);

      const connections = createClient(ConnectionService, transport);
      const reconnect = await connections.reconnectConnection({ connectionId, returnUrl: "http://localhost:3000/done?again=1" });
      await watch.untilEvents(3);
      const done = await driveConsent(reconnect.authUrl, { stopAt: "http://localhost:3000/done" });
      assert.equal(new URL(done.url).searchParams.get("status"), "success");
      await watch.untilEvents(4);
      await connections.revokeConnection({ connectionId });
      await watch.untilEvents(5);

      assert.deepEqual(
        watch.events().map((e) => [e.type, e.connection?.status]),
        [
          [ConnectionEventType.CREATED, ConnectionStatus.PENDING],
          [ConnectionEventType.ACTIVE, ConnectionStatus.ACTIVE],
          [ConnectionEventType.PENDING, ConnectionStatus.PENDING],
          [ConnectionEventType.ACTIVE, ConnectionStatus.ACTIVE],
          [ConnectionEventType.REVOKED, ConnectionStatus.REVOKED],
        ],
      );
      assert.ok(watch.events().every((e) => e.connection?.connectionId === connectionId));
      assert.equal(watch.events()[0]?.connection?.userId, "watched-user");
      const wire = JSON.stringify(watch.messages, (_k, v) => (typeof v === "bigint" ? String(v) : v));
      assert.ok(!wire.includes(accessToken), "the access token never reaches the event stream");
      assert.ok(!/refresh_token|access_token|client_secret/.test(wire));
    } finally {
      watch.stop();
    }
  });
});
