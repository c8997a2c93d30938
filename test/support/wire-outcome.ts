/**
 * Reads the outcome of a raw response the same way for every protocol: the code (Connect's
 * lower-case name), the ErrorInfo reason and field, from a REST or Connect JSON error body, a
 * Connect end-stream message, or gRPC trailers (trailers-only included). Also builds the bodies a
 * raw request needs (JSON, gRPC envelope, a protobuf string field holding arbitrary bytes).
 */
import { fromBinary } from "@bufbuild/protobuf";
import { BinaryWriter, base64Decode, WireType } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeToString, errorFromJson } from "@connectrpc/connect/protocol-connect";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import { ErrorInfoSchema, ErrorReason } from "../../gen/nexus/v1/errors_pb.ts";
import type { RawResponse } from "./raw-client.ts";

/** What a call ended with; `code` is "ok" for success. */
export interface WireOutcome {
  status: number;
  code: string;
  /** The ErrorInfo reason's proto name without prefix, e.g. "INVALID_FIELD"; "" when none. */
  reason: string;
  field: string;
  /** The REST JSON spelling of the reason (details[].debug.reason), when the body had one. */
  restReason?: string;
  message: string;
}

/** Decodes the outcome of `res`. */
export function outcomeOf(res: RawResponse): WireOutcome {
  const grpc = Object.fromEntries(Object.entries({ ...res.headers, ...res.trailers }).filter(([name]) => !name.startsWith(":")));
  if (grpc["grpc-status"] !== undefined) {
    const err = findTrailerError(new Headers(grpc));
    return err === undefined ? ok(res.status) : fromError(res.status, err);
  }
  const text = res.body.toString("utf8");
  const contentType = res.headers["content-type"] ?? "";
  if (contentType.startsWith("application/connect+")) {
    for (const message of envelopes(res.body)) {
      if ((message.flags & 0x02) === 0) continue;
      const end = JSON.parse(Buffer.from(message.data).toString("utf8")) as { error?: unknown };
      return end.error === undefined ? ok(res.status) : fromError(res.status, errorFromJson(end.error as never, undefined, fallback()));
    }
    return ok(res.status);
  }
  if (res.status === 200) return ok(res.status);
  const json = text === "" ? {} : (JSON.parse(text) as { details?: { debug?: { reason?: string } }[] });
  const outcome = fromError(
    res.status,
    text === "" ? new ConnectError("", Code.Unknown) : errorFromJson(json as never, undefined, fallback()),
  );
  const restReason = json.details?.find((d) => typeof d.debug?.reason === "string")?.debug?.reason;
  return restReason === undefined ? outcome : { ...outcome, restReason };
}

function ok(status: number): WireOutcome {
  return { status, code: "ok", reason: "", field: "", message: "" };
}

function fallback(): ConnectError {
  return new ConnectError("undecodable error body", Code.Unknown);
}

function fromError(status: number, err: ConnectError): WireOutcome {
  const info = err.findDetails(ErrorInfoSchema)[0];
  const reason = info === undefined ? "" : (Object.entries(ErrorReason).find(([, v]) => v === info.reason)?.[0] ?? String(info.reason));
  return { status, code: codeToString(err.code), reason, field: info?.field ?? "", message: err.rawMessage };
}

/** Splits an enveloped body into its messages. */
export function envelopes(body: Uint8Array): { flags: number; data: Uint8Array }[] {
  const out: { flags: number; data: Uint8Array }[] = [];
  const buf = Buffer.from(body);
  for (let at = 0; at + 5 <= buf.length; ) {
    const length = buf.readUInt32BE(at + 1);
    out.push({ flags: buf[at]!, data: buf.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return out;
}

/** Frames `data` as one envelope with `flags`. */
export function envelope(data: Uint8Array, flags = 0): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(data.length, 1);
  return Buffer.concat([head, data]);
}

/** A protobuf message of length-delimited fields given as raw bytes (strings need not be UTF-8). */
export function rawProto(fields: readonly (readonly [number, Uint8Array | string])[]): Uint8Array {
  const writer = new BinaryWriter();
  for (const [number, value] of fields)
    writer.tag(number, WireType.LengthDelimited).bytes(typeof value === "string" ? Buffer.from(value) : value);
  return writer.finish();
}

/** Decodes an ErrorInfo from a base64 detail value (for REST bodies read by hand). */
export function errorInfoFrom(base64: string) {
  return fromBinary(ErrorInfoSchema, base64Decode(base64));
}
