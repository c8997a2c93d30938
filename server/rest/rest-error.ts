/**
 * How REST answers fail: the Connect error JSON shape (`{"code","message","details"}`, see
 * https://connectrpc.com/docs/protocol#error-end-stream) with each known detail also rendered as
 * REST JSON in `debug`, and the few HTTP-level rejections decided before an RPC runs. It never
 * picks a status for an RPC error: that follows the Connect code.
 */

import type { DescMessage, JsonObject, Message, Registry } from "@bufbuild/protobuf";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { base64Encode } from "@bufbuild/protobuf/wire";
import type { Code, ConnectError } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import type { ErrorReason } from "../../gen/nexus/v1/errors_pb.ts";
import { errorWithReason } from "../rpc/errors.ts";
import { toRestJson } from "./rest-json.ts";

/**
 * A request refused at the HTTP layer with a status the Connect code alone would not give:
 * 405 (wrong method, with `Allow`), 413 (body too large), 415 (not JSON) and 499 (the client
 * went away while its body was read). Its `reason` goes into the ErrorInfo detail.
 */
export class RestHttpError extends Error {
  override readonly name = "RestHttpError";
  readonly status: number;
  readonly code: Code;
  readonly reason: ErrorReason;
  /** Extra response headers, e.g. `allow` for 405. */
  readonly headers: Readonly<Record<string, string>>;
  constructor(status: number, code: Code, reason: ErrorReason, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.reason = reason;
    this.headers = headers;
  }

  /** The error as a ConnectError with its ErrorInfo, for rendering. */
  toConnectError(): ConnectError {
    return errorWithReason(this.message, this.code, this.reason);
  }
}

/**
 * Renders a ConnectError as the REST error body. Details whose type the registry knows (e.g.
 * nexus.v1.ErrorInfo) carry a REST JSON `debug` rendering beside the base64 `value`; others keep
 * type and value only, as Connect does.
 */
export function restErrorJson(err: ConnectError, registry: Registry): JsonObject {
  const json: JsonObject = { code: codeToString(err.code), message: err.rawMessage };
  const details = err.details.map((detail) => {
    if ("desc" in detail) {
      const message = create(detail.desc, detail.value);
      return detailJson(detail.desc, toBinary(detail.desc, message), message, registry);
    }
    const desc = registry.getMessage(detail.type);
    return detailJson(desc ?? detail.type, detail.value, desc && decode(desc, detail.value), registry);
  });
  if (details.length > 0) json.details = details;
  return json;
}

function detailJson(desc: DescMessage | string, bytes: Uint8Array, message: Message | undefined, registry: Registry): JsonObject {
  const type = typeof desc === "string" ? desc : desc.typeName;
  const json: JsonObject = { type, value: base64Encode(bytes, "std_raw") };
  if (typeof desc !== "string" && message !== undefined) json.debug = toRestJson(desc, message, { registry });
  return json;
}

function decode(desc: DescMessage, bytes: Uint8Array): Message | undefined {
  try {
    return fromBinary(desc, bytes);
  } catch {
    return undefined; // an undecodable detail is still sent, as type and value only
  }
}
