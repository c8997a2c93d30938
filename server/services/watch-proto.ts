/** Proto of the watch stream's events, shared by the per-stream path (token-service.ts) and the fan-out (watch-fanout.ts). */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { CredentialSchema } from "../../gen/nexus/v1/credential_pb.ts";
import type { WatchCredentialsResponseSchema } from "../../gen/nexus/v1/tokens_pb.ts";
import { connectionStatusToProto } from "../proto-mapping/connection-status-proto.ts";
import { strategyToProto } from "../proto-mapping/strategy-proto.ts";
import type { UsageCredential } from "../tokens/usage-credential.ts";
import type { CredentialWatchEvent } from "../watch/credential-watch.ts";

/** The proto Credential of a usage credential. */
export function credentialToProto(usage: UsageCredential): MessageInitShape<typeof CredentialSchema> {
  return {
    connectionId: usage.connectionId,
    strategy: strategyToProto(usage.strategy),
    credentials: usage.credentials,
    expiresAt: BigInt(usage.expiresAtSeconds ?? 0),
    version: BigInt(usage.version),
  };
}

/** The WatchCredentialsResponse of a status or heartbeat event (credentials: `credentialToProto`). */
export function watchEventToProto(
  event: Exclude<CredentialWatchEvent, { type: "credential" }>,
): MessageInitShape<typeof WatchCredentialsResponseSchema> {
  if (event.type === "status") {
    return { event: { case: "status", value: { status: connectionStatusToProto(event.status), reason: event.reason ?? "" } } };
  }
  return { event: { case: "heartbeat", value: { serverTime: BigInt(Math.floor(event.serverTimeMs / 1000)) } } };
}
