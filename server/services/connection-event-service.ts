/**
 * ConnectionEventService: WatchConnections, the tenant's stream of connection changes. Proto ⇄
 * domain translation and request checks only; server/watch/connection-event-watch.ts does the work.
 * Auth, per-key stream limits and "a revoked key ends the stream" come from the interceptors, as
 * for WatchCredentials.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { ConnectionEventSchema, ConnectionEventService } from "../../gen/nexus/v1/events_pb.ts";
import type { TenantScope } from "../auth/tenant-scope.ts";
import { InvalidArgumentError } from "../domain/errors.ts";
import { connectionEventTypeToProto } from "../proto-mapping/connection-event-proto.ts";
import type { ConnectionEventRecord, Store } from "../store/store.ts";
import type { ConnectionEventWatch } from "../watch/connection-event-watch.ts";
import { decodeEventCursor, encodeEventCursor } from "../watch/event-cursor.ts";
import { connectionToProto } from "./connection-service.ts";
import { requireId } from "./request-fields.ts";

/** Creates the ConnectionEventService implementation. */
export function createConnectionEventService(deps: {
  scope: TenantScope;
  store: Pick<Store, "getConnection">;
  watch: ConnectionEventWatch;
}): ServiceImpl<typeof ConnectionEventService> {
  const { scope, store } = deps;
  return {
    async *watchConnections(req, ctx: HandlerContext) {
      const tenantId = scope.tenantOfRequest(ctx, req.tenantId);
      const afterSeq = req.afterCursor === "" ? null : decodeEventCursor(req.afterCursor);
      if (afterSeq !== null && req.replayRetained) {
        throw new InvalidArgumentError("replay_retained", "may not be combined with after_cursor (the cursor says where to start)");
      }
      let connectionId: string | undefined;
      if (req.connectionId !== "") {
        connectionId = requireId("connection_id", req.connectionId);
        // Another tenant's connection reads as missing, as everywhere.
        await store.getConnection(tenantId, connectionId);
      }
      const items = deps.watch.watch({
        tenantId,
        afterSeq,
        cursorText: req.afterCursor,
        connectionId,
        replayRetained: req.replayRetained,
        signal: ctx.signal,
      });
      for await (const item of items) {
        const cursor = encodeEventCursor(item.seq);
        if (item.type === "event") {
          yield { event: { case: "connectionEvent", value: connectionEventToProto(item.event, cursor) }, cursor };
        } else {
          yield { event: { case: "heartbeat", value: { serverTime: BigInt(Math.floor(item.serverTimeMs / 1000)) } }, cursor };
        }
      }
    },
  };
}

/** The proto view of an event: metadata only (the snapshot holds no secret). */
export function connectionEventToProto(event: ConnectionEventRecord, cursor: string): MessageInitShape<typeof ConnectionEventSchema> {
  return {
    eventId: event.eventId,
    type: connectionEventTypeToProto(event.type),
    occurTime: timestampFromMs(event.occurredAtMs),
    connection: connectionToProto({ ...event.connection, returnUrl: null, nextRefreshAtMs: null }),
    cursor,
  };
}
