/**
 * Connection event types ⇄ the generated ConnectionEventType enum: the one place "active" becomes
 * CONNECTION_EVENT_TYPE_ACTIVE. Exhaustive by construction.
 */
import { ConnectionEventType as ProtoConnectionEventType } from "../../gen/nexus/v1/events_pb.ts";
import type { ConnectionEventType } from "../domain/connection-events.ts";

const TYPE_TO_PROTO: Readonly<Record<ConnectionEventType, ProtoConnectionEventType>> = {
  created: ProtoConnectionEventType.CREATED,
  pending: ProtoConnectionEventType.PENDING,
  active: ProtoConnectionEventType.ACTIVE,
  attention_required: ProtoConnectionEventType.ATTENTION_REQUIRED,
  failed: ProtoConnectionEventType.FAILED,
  revoked: ProtoConnectionEventType.REVOKED,
  expired: ProtoConnectionEventType.EXPIRED,
  updated: ProtoConnectionEventType.UPDATED,
};

/** The proto enum value of a connection event type. */
export function connectionEventTypeToProto(type: ConnectionEventType): ProtoConnectionEventType {
  return TYPE_TO_PROTO[type];
}
