/**
 * The wire bytes of the WatchCredentials fan-out: each event encoded once per codec, in the 5-byte
 * envelope gRPC, gRPC-Web and Connect streaming share.
 */
import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { type WatchCredentialsResponse, WatchCredentialsResponseSchema } from "../../gen/nexus/v1/tokens_pb.ts";
import type { UsageCredential } from "../tokens/usage-credential.ts";
import type { SharedRead } from "../watch/credential-watch.ts";
import { credentialToProto, watchEventToProto } from "./watch-proto.ts";

/** Frames of one read, encoded on first use per codec. */
export class Frames {
  readonly read: SharedRead;
  private status: Partial<Record<"proto" | "json", Uint8Array>> = {};
  private credential: Partial<Record<"proto" | "json", Uint8Array>> = {};
  constructor(read: SharedRead) {
    this.read = read;
  }
  statusFrame(codec: "proto" | "json"): Uint8Array {
    const { connection } = this.read;
    this.status[codec] ??= frame(
      create(
        WatchCredentialsResponseSchema,
        watchEventToProto({ type: "status", status: connection.status, reason: connection.statusReason }),
      ),
      codec,
    );
    return this.status[codec];
  }
  credentialFrame(codec: "proto" | "json", credential: UsageCredential): Uint8Array {
    this.credential[codec] ??= frame(
      create(WatchCredentialsResponseSchema, { event: { case: "credential", value: credentialToProto(credential) } }),
      codec,
    );
    return this.credential[codec];
  }
}

/** One message in its 5-byte envelope (flags 0: uncompressed), as all three protocols frame it. */
export function frame(message: WatchCredentialsResponse, codec: "proto" | "json"): Uint8Array {
  const payload =
    codec === "proto"
      ? toBinary(WatchCredentialsResponseSchema, message)
      : ENCODER.encode(toJsonString(WatchCredentialsResponseSchema, message));
  const out = new Uint8Array(5 + payload.byteLength);
  new DataView(out.buffer).setUint32(1, payload.byteLength);
  out.set(payload, 5);
  return out;
}

const ENCODER = new TextEncoder();
