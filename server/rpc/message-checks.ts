/**
 * Whether one request message, protobuf or JSON, parses as its input type, and the InvalidArgument
 * (with the field path where one can be named) it answers when not. Used by binary-input-guard.ts.
 */
import { type DescField, type DescMessage, fromBinary, fromJsonString, type MessageShape, ScalarType } from "@bufbuild/protobuf";
import { isFieldError } from "@bufbuild/protobuf/reflect";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { Code, type ConnectError } from "@connectrpc/connect";
import { ErrorReason } from "../../gen/nexus/v1/errors_pb.ts";
import { jsonUtf8Error } from "../services/request-fields.ts";
import { errorWithReason, toConnectError } from "./errors.ts";

/** The InvalidArgument a protobuf message answers, naming a string field that is not UTF-8; undefined when it parses. */
export function parseError(input: DescMessage, bytes: Uint8Array): ConnectError | undefined {
  const checked = checkedBinary(input, bytes);
  return "error" in checked ? checked.error : undefined;
}

/**
 * The message a checked request holds, parsed once (the dedicated HTTP/2 paths serve it as connect-es
 * would have parsed it: same options), or the error `parseError` / `jsonError` give; `undefined`
 * for an empty JSON body, which connect-es reads itself.
 */
export function checkedMessage<Desc extends DescMessage>(
  input: Desc,
  bytes: Uint8Array,
  codec: "proto" | "json",
): MessageShape<Desc> | undefined {
  const checked = codec === "proto" ? checkedBinary(input, bytes) : checkedJson(input, bytes);
  return checked !== undefined && "message" in checked ? checked.message : undefined;
}

type Checked<Desc extends DescMessage> = { message: MessageShape<Desc> } | { error: ConnectError };

function checkedBinary<Desc extends DescMessage>(input: Desc, bytes: Uint8Array): Checked<Desc> {
  try {
    return { message: fromBinary(input, bytes) };
  } catch (err) {
    const field = badUtf8Field(input, bytes, "", 0);
    if (field !== undefined)
      return {
        error: errorWithReason(
          `${field}: must be valid UTF-8 without control characters`,
          Code.InvalidArgument,
          ErrorReason.INVALID_FIELD,
          {
            field,
            cause: err,
          },
        ),
      };
    return { error: malformed(`invalid protobuf message: ${messageOf(err)}`, err) };
  }
}

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The path of the first string field whose bytes are not UTF-8 (proto3 strings must be, and
 * protobuf-es refuses them without saying which), or undefined when none is found.
 */
function badUtf8Field(desc: DescMessage, bytes: Uint8Array, prefix: string, depth: number): string | undefined {
  if (depth > 32) return undefined;
  try {
    const reader = new BinaryReader(bytes);
    while (reader.pos < reader.len) {
      const [number, wireType] = reader.tag();
      const field = desc.fields.find((f) => f.number === number);
      if (wireType !== WireType.LengthDelimited || field === undefined) {
        reader.skip(wireType, number);
        continue;
      }
      const found = badUtf8InValue(field, reader.bytes(), prefix + field.name, depth);
      if (found !== undefined) return found;
    }
  } catch {
    return undefined; // broken elsewhere: the parse error says how
  }
  return undefined;
}

function badUtf8InValue(field: DescField, data: Uint8Array, path: string, depth: number): string | undefined {
  const isString = (field.fieldKind === "scalar" || field.fieldKind === "list") && field.scalar === ScalarType.STRING;
  if (isString) return isUtf8(data) ? undefined : path;
  if (field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message")) {
    return badUtf8Field(field.message!, data, `${path}.`, depth + 1);
  }
  if (field.fieldKind !== "map") return undefined;
  // A map entry is a message { key = 1; value = 2 }.
  const reader = new BinaryReader(data);
  while (reader.pos < reader.len) {
    const [number, wireType] = reader.tag();
    if (wireType !== WireType.LengthDelimited) {
      reader.skip(wireType, number);
      continue;
    }
    const value = reader.bytes();
    if (number === 1 && field.mapKey === ScalarType.STRING && !isUtf8(value)) return path;
    if (number === 2 && field.mapKind === "scalar" && field.scalar === ScalarType.STRING && !isUtf8(value)) return path;
    if (number === 2 && field.mapKind === "message") return badUtf8Field(field.message, value, `${path}.`, depth + 1);
  }
  return undefined;
}

function isUtf8(data: Uint8Array): boolean {
  try {
    STRICT_UTF8.decode(data);
    return true;
  } catch {
    return false;
  }
}

/**
 * The InvalidArgument a JSON message answers (bad UTF-8, an unknown field by its path, a bad value);
 * undefined when it parses. Same options as the router's JSON parsing (app.ts): unknown fields are refused.
 */
export function jsonError(input: DescMessage, bytes: Uint8Array): ConnectError | undefined {
  const checked = checkedJson(input, bytes);
  return checked !== undefined && "error" in checked ? checked.error : undefined;
}

function checkedJson<Desc extends DescMessage>(input: Desc, bytes: Uint8Array): Checked<Desc> | undefined {
  const utf8 = jsonUtf8Error(bytes, input);
  if (utf8 !== undefined) return { error: toConnectError(utf8).error };
  // An empty Connect unary body is connect-es's business (it reads it as the empty message).
  if (bytes.byteLength === 0) return undefined;
  const text = new TextDecoder().decode(bytes);
  try {
    return { message: fromJsonString(input, text, { ignoreUnknownFields: false }) };
  } catch (err) {
    // An unknown key is a bad field, named by its path as the REST mapping names it.
    const unknown = /key ".*" is unknown$/s.test(messageOf(err)) ? unknownKeyPath(input, parseJson(text), "") : undefined;
    if (unknown !== undefined) {
      return {
        error: errorWithReason(`invalid JSON message: ${unknown}: unknown field`, Code.InvalidArgument, ErrorReason.INVALID_FIELD, {
          field: unknown,
          cause: err,
        }),
      };
    }
    return { error: malformed(`invalid JSON message: ${messageOf(err)}`, err) };
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The path ("provider.colour", "items[2].x") of the first key in `json` that `desc` has no field
 * for, walking nested messages, lists and maps (not the well-known types' own JSON forms).
 */
function unknownKeyPath(desc: DescMessage, json: unknown, path: string): string | undefined {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return undefined;
  const join = (name: string) => (path === "" ? name : `${path}.${name}`);
  for (const [key, value] of Object.entries(json)) {
    const field = desc.fields.find((f) => f.name === key || f.jsonName === key);
    // A caller's key is echoed in the error: cut it (as the REST mapping does).
    if (field === undefined) return join(key.slice(0, 128));
    const message = field.fieldKind === "message" || field.fieldKind === "list" || field.fieldKind === "map" ? field.message : undefined;
    if (message === undefined || message.typeName.startsWith("google.protobuf.")) continue;
    const fieldPath = join(field.name);
    const children: [string, unknown][] =
      field.fieldKind === "list" && Array.isArray(value)
        ? value.map((item, i) => [`${fieldPath}[${i}]`, item])
        : field.fieldKind === "map" && typeof value === "object" && value !== null
          ? Object.entries(value).map(([k, v]) => [`${fieldPath}.${k}`, v])
          : [[fieldPath, value]];
    for (const [childPath, child] of children) {
      const found = unknownKeyPath(message, child, childPath);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** InvalidArgument for a message that does not parse: INVALID_FIELD when the field is known, else MALFORMED_REQUEST. */
export function malformed(message: string, err: unknown): ConnectError {
  // protobuf-es names the field in a FieldError, or (fromJson) only in the text: "cannot decode
  // field nexus.v1.X.connection_id from JSON: 42".
  const named = /cannot decode field [\w.]+\.(\w+) from JSON/.exec(messageOf(err))?.[1];
  const field = isFieldError(err) ? err.field().name : named;
  return errorWithReason(message, Code.InvalidArgument, field === undefined ? ErrorReason.MALFORMED_REQUEST : ErrorReason.INVALID_FIELD, {
    field,
    cause: err,
  });
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
