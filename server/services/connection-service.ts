/**
 * ConnectionService: translates proto requests to store/domain calls and records back to proto.
 * No HTTP, no SQL, no ConnectError here: domain errors are mapped by the error interceptor.
 * Request/ReconnectConnection delegate to the consent flow (server/consent/consent-flow.ts).
 * The tenant of every call comes from the caller's key through the tenant scope (server/auth/).
 */

import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { ConnectionAccountSchema, ConnectionSchema, ConnectionService } from "../../gen/nexus/v1/connections_pb.ts";
import { ConnectionStatus as ProtoStatus } from "../../gen/nexus/v1/status_pb.ts";
import type { TenantScope } from "../auth/tenant-scope.ts";
import type { ConsentFlow, ConsentStarted } from "../consent/consent-flow.ts";
import { parseLabelFilters } from "../consent/consent-input.ts";
import { InvalidArgumentError, NotImplementedError } from "../domain/errors.ts";
import { connectionStatusFromProto, connectionStatusToProto } from "../proto-mapping/connection-status-proto.ts";
import type { ConnectionRevoker } from "../revocation/connection-revoker.ts";
import type { ConnectionRecord, Store } from "../store/store.ts";
import { requireId } from "./request-fields.ts";

/** Creates the ConnectionService implementation. */
export function createConnectionService(deps: {
  store: Store;
  scope: TenantScope;
  /** Absent: Request/ReconnectConnection answer Unimplemented. */
  consent?: Pick<ConsentFlow, "start" | "reconnect">;
  /** Absent: RevokeConnection answers Unimplemented. */
  revoker?: ConnectionRevoker;
}): ServiceImpl<typeof ConnectionService> {
  const { store, scope } = deps;
  const consent = () => {
    if (deps.consent === undefined) throw new NotImplementedError("provider consent flow");
    return deps.consent;
  };
  return {
    async requestConnection(req, ctx) {
      const tenantId = scope.tenantOfRequest(ctx, req.tenantId);
      const started = await consent().start(tenantId, {
        userId: req.userId,
        providerName: req.providerName,
        scopes: req.scopes,
        returnUrl: req.returnUrl,
        params: req.params,
        labels: req.labels,
        reuseExisting: req.reuseExisting,
      });
      return {
        authUrl: started.authUrl,
        connectionId: started.connection.id,
        status: connectionStatusToProto(started.connection.status),
        authUrlExpiresAt: expiresAtSeconds(started),
      };
    },
    async checkConnection(req, ctx) {
      const id = requireId("connection_id", req.connectionId);
      const record = await store.getConnection(await scope.tenantOfConnection(ctx, id), id);
      return {
        status: connectionStatusToProto(record.status),
        account: accountToProto(record),
        reusedConnectionId: record.reusedConnectionId ?? "",
      };
    },
    async getConnection(req, ctx) {
      const id = requireId("connection_id", req.connectionId);
      const record = await store.getConnection(await scope.tenantOfConnection(ctx, id), id);
      return { connection: connectionToProto(record) };
    },
    async listConnections(req, ctx) {
      const tenantId = scope.tenantOfRequest(ctx, req.tenantId);
      let status;
      if (req.status !== ProtoStatus.UNSPECIFIED) {
        status = connectionStatusFromProto(req.status);
        if (status === undefined) throw new InvalidArgumentError("status", "is not a known connection status");
      }
      const page = await store.listConnections(
        tenantId,
        {
          userId: req.userId || undefined,
          providerName: req.providerName || undefined,
          status,
          accountId: req.accountId || undefined,
          labels: req.labels.length > 0 ? parseLabelFilters(req.labels) : undefined,
        },
        { pageSize: req.pageSize, pageToken: req.pageToken },
      );
      return { connections: page.items.map(connectionToProto), nextPageToken: page.nextPageToken };
    },
    async revokeConnection(req, ctx) {
      if (deps.revoker === undefined) throw new NotImplementedError("RevokeConnection (provider revocation, RFC 7009)");
      const id = requireId("connection_id", req.connectionId);
      const result = await deps.revoker.revoke(await scope.tenantOfConnection(ctx, id), id);
      return { connection: connectionToProto(result.connection), providerRevoked: result.providerRevoked };
    },
    async reconnectConnection(req, ctx) {
      const connectionId = requireId("connection_id", req.connectionId);
      const tenantId = await scope.tenantOfConnection(ctx, connectionId);
      const started = await consent().reconnect(tenantId, connectionId, { returnUrl: req.returnUrl, scopes: req.scopes });
      return { authUrl: started.authUrl, connectionId: started.connection.id, authUrlExpiresAt: expiresAtSeconds(started) };
    },
  };
}

/** auth_url_expires_at: Unix seconds, 0 when there is no link. */
function expiresAtSeconds(started: ConsentStarted): bigint {
  return started.authUrlExpiresAtMs === null ? 0n : BigInt(Math.floor(started.authUrlExpiresAtMs / 1000));
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
    account: accountToProto(record),
    labels: record.labels,
    metadata: record.metadata,
    reusedConnectionId: record.reusedConnectionId ?? "",
  };
}

/** The proto account of a connection; absent while unknown. */
function accountToProto(record: ConnectionRecord): MessageInitShape<typeof ConnectionAccountSchema> | undefined {
  const account = record.account;
  if (account === null) return undefined;
  return { id: account.id, email: account.email ?? "", displayName: account.displayName ?? "" };
}
