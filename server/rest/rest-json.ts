/**
 * The REST JSON profile of the /v1 paths, at one boundary: proto field names (or the
 * field's `(nexus.v1.rest_json_name)` option, e.g. the seed's "authUrl"), enums as lower-case names without the enum's
 * prefix ("attention_required"), 64-bit integers as JSON numbers while they are exact, defaults
 * omitted, well-known types as in proto3 JSON. It wraps protobuf-es toJson/fromJson and only
 * rewrites what the profile changes.
 */

import type { DescEnum, DescField, DescMessage, DescOneof, JsonObject, JsonValue, MessageShape, Registry } from "@bufbuild/protobuf";
import { fromJson, getOption, mergeFromJson, ScalarType, toJson } from "@bufbuild/protobuf";
import { isFieldError, protoCamelCase } from "@bufbuild/protobuf/reflect";
import { hasCustomJsonRepresentation } from "@bufbuild/protobuf/wkt";
import { rest_json_name } from "../../gen/nexus/v1/rest_pb.ts";
import { InvalidArgumentError } from "../domain/errors.ts";

/** Options of the REST JSON conversions. */
export interface RestJsonOptions {
  /** Needed only for google.protobuf.Any fields: the types they may carry. */
  readonly registry?: Registry;
}

/** Options of `fromRestJson`. */
export interface RestJsonReadOptions<Desc extends DescMessage> extends RestJsonOptions {
  /** Merge into this message instead of a new one: singular fields are overwritten, lists appended. */
  readonly target?: MessageShape<Desc>;
}

/** Serializes a message to its REST JSON value. */
export function toRestJson<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>, options: RestJsonOptions = {}): JsonValue {
  const json = toJson(schema, message, { useProtoFieldName: true, registry: options.registry });
  return writeMessage(schema, json);
}

/**
 * Parses a message from a REST JSON value. Accepts proto names and JSON names, enum values as the
 * lower-case REST name, the full proto name or a number, 64-bit integers as numbers or strings.
 * @throws InvalidArgumentError naming the field path (e.g. "provider.auth_type") for an unknown
 *   field, an unknown enum value or a value of the wrong type.
 */
export function fromRestJson<Desc extends DescMessage>(
  schema: Desc,
  json: JsonValue,
  options: RestJsonReadOptions<Desc> = {},
): MessageShape<Desc> {
  const paths = new Map<DescField | DescOneof, string>();
  const normalized = readMessage(schema, json, "", { paths, registry: options.registry });
  try {
    return options.target === undefined
      ? fromJson(schema, normalized, { registry: options.registry })
      : mergeFromJson(schema, options.target, normalized, { registry: options.registry });
  } catch (err) {
    // protobuf-es names the field's descriptor; the walk above knows where it sat in the input.
    if (err instanceof Error && isFieldError(err.cause)) {
      const field = err.cause.field();
      throw new InvalidArgumentError(paths.get(field) ?? field.name, err.cause.message, { cause: err });
    }
    throw new InvalidArgumentError("", err instanceof Error ? err.message : "invalid JSON", { cause: err });
  }
}

/** The REST name of an enum value: "CONNECTION_STATUS_ATTENTION_REQUIRED" → "attention_required". */
export function restEnumName(descEnum: DescEnum, protoName: string): string {
  const prefix = enumPrefix(descEnum);
  return (protoName.startsWith(prefix) ? protoName.slice(prefix.length) : protoName).toLowerCase();
}

// ---- writing ----

function writeMessage(desc: DescMessage, json: JsonValue): JsonValue {
  if (hasCustomJsonRepresentation(desc)) return writeWellKnown(desc, json);
  if (!isJsonObject(json)) return json;
  const out: JsonObject = {};
  for (const field of desc.fields) {
    const value = json[field.name];
    if (value !== undefined) out[restKey(field)] = writeField(field, value);
  }
  return out;
}

function writeField(field: DescField, json: JsonValue): JsonValue {
  switch (field.fieldKind) {
    case "list":
      return Array.isArray(json) ? json.map((item) => writeValue(field, item)) : json;
    case "map":
      return isJsonObject(json) ? Object.fromEntries(Object.entries(json).map(([k, v]) => [k, writeValue(field, v)])) : json;
    default:
      return writeValue(field, json);
  }
}

// For singular fields and for list/map elements alike: `message`, `enum` and `scalar` describe the
// value type in every field kind.
function writeValue(field: DescField, json: JsonValue): JsonValue {
  if (field.message !== undefined) return writeMessage(field.message, json);
  if (field.enum !== undefined) {
    if (typeof json !== "string") return json; // an unknown value is written as its number
    const value = field.enum.values.find((v) => v.name === json || v.jsonName === json);
    return value === undefined ? json : restEnumName(field.enum, value.name);
  }
  return field.scalar !== undefined ? writeScalar(field.scalar, json) : json;
}

function writeWellKnown(desc: DescMessage, json: JsonValue): JsonValue {
  switch (desc.typeName) {
    case "google.protobuf.Int64Value":
      return writeScalar(ScalarType.INT64, json);
    case "google.protobuf.UInt64Value":
      return writeScalar(ScalarType.UINT64, json);
    default:
      return json;
  }
}

// proto3 JSON writes 64-bit integers as strings; the REST profile (the seed's `expires_at`) uses
// numbers, and falls back to the string only where a JavaScript number would lose precision.
function writeScalar(scalar: ScalarType, json: JsonValue): JsonValue {
  if (typeof json !== "string" || !isInt64(scalar)) return json;
  const n = Number(json);
  return Number.isSafeInteger(n) ? n : json;
}

// ---- reading ----

interface ReadContext {
  /** Where each field was seen in the input, to name it when protobuf-es rejects its value. */
  readonly paths: Map<DescField | DescOneof, string>;
  readonly registry: Registry | undefined;
}

function readMessage(desc: DescMessage, json: JsonValue, path: string, ctx: ReadContext): JsonValue {
  if (hasCustomJsonRepresentation(desc)) return readWellKnown(desc, json, path, ctx);
  if (json === null && path !== "") return null;
  if (!isJsonObject(json)) {
    const reason = path === "" ? "expected a JSON object" : `expected a JSON object for ${desc.typeName}`;
    throw new InvalidArgumentError(path, reason);
  }
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(json)) {
    const field = desc.fields.find((f) => f.name === key || f.jsonName === key);
    // A caller's key is echoed in the error: cut it so a huge one cannot bloat answers and logs.
    const fieldPath = joinPath(path, field?.name ?? key.slice(0, 128));
    if (field === undefined) throw new InvalidArgumentError(fieldPath, "unknown field");
    if (field.name in out) throw new InvalidArgumentError(fieldPath, "set more than once");
    ctx.paths.set(field, fieldPath);
    if (field.oneof !== undefined) ctx.paths.set(field.oneof, joinPath(path, field.oneof.name));
    out[field.name] = readField(field, value, fieldPath, ctx);
  }
  return out;
}

function readField(field: DescField, json: JsonValue, path: string, ctx: ReadContext): JsonValue {
  switch (field.fieldKind) {
    case "list":
      return Array.isArray(json) ? json.map((item, i) => readValue(field, item, `${path}[${i}]`, ctx)) : json;
    case "map":
      return isJsonObject(json)
        ? Object.fromEntries(Object.entries(json).map(([k, v]) => [k, readValue(field, v, `${path}.${k}`, ctx)]))
        : json;
    default:
      return readValue(field, json, path, ctx);
  }
}

function readValue(field: DescField, json: JsonValue, path: string, ctx: ReadContext): JsonValue {
  if (field.message !== undefined) return readMessage(field.message, json, path, ctx);
  if (field.enum !== undefined) return readEnum(field.enum, json, path);
  return json; // scalars: protobuf-es checks them, accepting numbers and strings for integers
}

function readEnum(desc: DescEnum, json: JsonValue, path: string): JsonValue {
  if (typeof json !== "string" || desc.typeName === "google.protobuf.NullValue") return json;
  const upper = json.toUpperCase();
  const prefixed = enumPrefix(desc) + upper;
  const value = desc.values.find((v) => v.name === upper || v.name === prefixed || v.jsonName === json);
  if (value === undefined) {
    const allowed = desc.values.map((v) => restEnumName(desc, v.name)).join(", ");
    const given = JSON.stringify(json.slice(0, 64));
    throw new InvalidArgumentError(path, `unknown value ${given}; expected one of: ${allowed}`);
  }
  return value.name;
}

// Well-known types are checked here, where the path is known: protobuf-es reports their errors
// without naming the field.
function readWellKnown(desc: DescMessage, json: JsonValue, path: string, ctx: ReadContext): JsonValue {
  let normalized = json;
  if (desc.typeName === "google.protobuf.FieldMask" && typeof json === "string") {
    // proto3 JSON wants lowerCamelCase paths; REST callers naturally write proto names
    // ("oauth.client_secret"). Accept both.
    normalized = json
      .split(",")
      .map((p) => p.split(".").map(protoCamelCase).join("."))
      .join(",");
  }
  if (normalized !== null) {
    try {
      fromJson(desc, normalized, { registry: ctx.registry });
    } catch (err) {
      throw new InvalidArgumentError(path, err instanceof Error ? err.message : "invalid value", { cause: err });
    }
  }
  return normalized;
}

// ---- shared ----

// Descriptors never change, so what is derived from one is worked out once: getOption decodes the
// field's options (a message and its extensions) on every call, a cost each REST call paid per field.
const restKeys = new WeakMap<DescField, string>();
const enumPrefixes = new WeakMap<DescEnum, string>();

// The proto name, unless the field carries a (nexus.v1.rest_json_name) option (e.g. the seed's "authUrl").
function restKey(field: DescField): string {
  let key = restKeys.get(field);
  if (key === undefined) {
    key = getOption(field, rest_json_name) || field.name;
    restKeys.set(field, key);
  }
  return key;
}

// The enum's name in UPPER_SNAKE plus "_": ConnectionStatus → "CONNECTION_STATUS_" (buf lint's
// ENUM_VALUE_PREFIX convention, which the Nexus protos follow).
function enumPrefix(desc: DescEnum): string {
  let prefix = enumPrefixes.get(desc);
  if (prefix === undefined) {
    prefix = `${desc.name.charAt(0)}${desc.name.slice(1).replace(/[A-Z]/g, (c) => `_${c}`)}_`.toUpperCase();
    enumPrefixes.set(desc, prefix);
  }
  return prefix;
}

function isInt64(scalar: ScalarType): boolean {
  return (
    scalar === ScalarType.INT64 ||
    scalar === ScalarType.UINT64 ||
    scalar === ScalarType.SINT64 ||
    scalar === ScalarType.FIXED64 ||
    scalar === ScalarType.SFIXED64
  );
}

function isJsonObject(json: JsonValue): json is JsonObject {
  return typeof json === "object" && json !== null && !Array.isArray(json);
}

function joinPath(path: string, name: string): string {
  return path === "" ? name : `${path}.${name}`;
}
