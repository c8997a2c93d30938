/**
 * ConnectionService: translates proto requests to store/domain calls and records back to proto.
 * No HTTP, no SQL, no ConnectError here: domain errors are mapped by the error interceptor.
 * Consent (Request/ReconnectConnection) and revocation arrive with the OAuth flow.
 */
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { ConnectionService, type ConnectionSchema } from "../../gen/nexus/v1/connections_pb.ts";
import { ConnectionStatus as ProtoStatus } from "../../gen/nexus/v1/status_pb.ts";
import { InvalidArgumentError, NotImplementedError } from "../domain/errors.ts";
import type { ConnectionRecord, Store } from "../store/store.ts";
import { connectionStatusFromProto, connectionStatusToProto } from "./convert.ts";
import type { TenantResolver } from "./tenant.ts";
import { requireId } from "./validate.ts";

/** Creates the ConnectionService implementation. */
export function createConnectionService(deps: {
  store: Store;
  tenantOf: TenantResolver;
}): ServiceImpl<typeof ConnectionService> {
  const { store, tenantOf } = deps;
  return {
    async requestConnection() {
      throw new NotImplementedError("RequestConnection (provider consent flow)");
    },
    async checkConnection(req, ctx) {
      const record = await store.getConnection(tenantOf(ctx), requireId("connection_id", req.connectionId));
      return { status: connectionStatusToProto(record.status) };
    },
    async getConnection(req, ctx) {
      const record = await store.getConnection(tenantOf(ctx), requireId("connection_id", req.connectionId));
      return { connection: connectionToProto(record) };
    },
    async listConnections(req, ctx) {
      const tenantId = req.tenantId === "" ? tenantOf(ctx) : requireId("tenant_id", req.tenantId);
      if (tenantId !== tenantOf(ctx)) throw new InvalidArgumentError("tenant_id", "must be the caller's own tenant");
      let status;
      if (req.status !== ProtoStatus.UNSPECIFIED) {
        status = connectionStatusFromProto(req.status);
        if (status === undefined) throw new InvalidArgumentError("status", "is not a known connection status");
      }
      const page = await store.listConnections(
        tenantId,
        { userId: req.userId || undefined, providerName: req.providerName || undefined, status },
        { pageSize: req.pageSize, pageToken: req.pageToken },
      );
      return { connections: page.items.map(connectionToProto), nextPageToken: page.nextPageToken };
    },
    async revokeConnection() {
      throw new NotImplementedError("RevokeConnection (provider revocation, RFC 7009)");
    },
    async reconnectConnection() {
      throw new NotImplementedError("ReconnectConnection (provider consent flow)");
    },
  };
}

/** The proto view of a connection record: metadata only. */
export function connectionToProto(record: ConnectionRecord): MessageInitShape<typeof ConnectionSchema> {
  return {
    connectionId: record.id,
    tenantId: record.tenantId,
    userId: record.userId,
    providerName: record.providerName,
    status: connectionStatusToProto(record.status),
    statusReason: record.statusReason ?? "",
    scopes: record.scopes,
    params: record.params,
    createTime: timestampFromMs(record.createdAtMs),
    updateTime: timestampFromMs(record.updatedAtMs),
    expiresAt: BigInt(record.credentialExpiresAtSeconds ?? 0),
    credentialVersion: BigInt(record.credentialVersion),
  };
}
