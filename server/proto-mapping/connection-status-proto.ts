/**
 * Conversions between domain literals and generated proto enums: the one boundary where
 * "active" becomes ConnectionStatus.ACTIVE and back. Exhaustive by construction. proto-mapping/
 * holds every proto ⇄ domain value mapping, below services/ and rpc/ which both use it.
 */
import { ConnectionStatus as ProtoConnectionStatus } from "../../gen/nexus/v1/status_pb.ts";
import type { ConnectionStatus } from "../domain/connection-status.ts";

const STATUS_TO_PROTO: Readonly<Record<ConnectionStatus, ProtoConnectionStatus>> = {
  pending: ProtoConnectionStatus.PENDING,
  active: ProtoConnectionStatus.ACTIVE,
  attention_required: ProtoConnectionStatus.ATTENTION_REQUIRED,
  revoked: ProtoConnectionStatus.REVOKED,
  expired: ProtoConnectionStatus.EXPIRED,
  failed: ProtoConnectionStatus.FAILED,
};

/** The proto enum value of a domain connection status. */
export function connectionStatusToProto(status: ConnectionStatus): ProtoConnectionStatus {
  return STATUS_TO_PROTO[status];
}

/** The domain status of a proto enum value, or undefined for UNSPECIFIED / unknown numbers. */
export function connectionStatusFromProto(value: ProtoConnectionStatus): ConnectionStatus | undefined {
  for (const [status, proto] of Object.entries(STATUS_TO_PROTO) as [ConnectionStatus, ProtoConnectionStatus][]) {
    if (proto === value) return status;
  }
  return undefined;
}
