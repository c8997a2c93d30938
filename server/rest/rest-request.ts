/**
 * Builds an RPC request message from the three places a REST request carries fields, following
 * google.api.http (http.proto, "HttpRule"): path variables, the body per the rule's `body`, and
 * query parameters for the remaining fields (dotted names for nested fields, repeated keys for
 * lists). It owns no HTTP I/O; every input error is an InvalidArgumentError naming the field.
 */

import type { DescField, DescMessage, JsonObject, JsonValue, MessageShape, Registry } from "@bufbuild/protobuf";
import { create, ScalarType } from "@bufbuild/protobuf";
import { isWrapperDesc } from "@bufbuild/protobuf/wkt";
import { InvalidArgumentError } from "../domain/errors.ts";
import type { HttpRoute } from "./http-rules.ts";
import { fromRestJson } from "./rest-json.ts";

/** The parts of one HTTP request that carry request fields. */
export interface RestRequestParts {
  /** Decoded path variables by field path, as returned by the route's template. */
  readonly bindings: ReadonlyMap<string, string>;
  /** The raw query string, without '?' ("" when there is none). */
  readonly query: string;
  /** The parsed JSON body, or undefined when the request had no body. */
  readonly body: JsonValue | undefined;
}

// Well-known types whose JSON form is a single string, so a query parameter can carry them.
const STRING_WELL_KNOWN = new Set(["google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask"]);

/**
 * Builds the request message of `route` from the parts of an HTTP request.
 * Path variables win over the same field in a `body: "*"` body, as the path names the resource.
 * @throws InvalidArgumentError for a body on a route without one, an unknown or duplicated query
 *   parameter, a query parameter naming a field the path or body already carries, or any value
 *   that does not fit its field.
 */
export function buildRestRequest(route: HttpRoute, parts: RestRequestParts, registry?: Registry): MessageShape<DescMessage> {
  const input = route.method.input;
  let message: MessageShape<DescMessage>;
  if (parts.body === undefined) {
    message = create(input);
  } else if (route.body.kind === "none") {
    throw new InvalidArgumentError("", `${route.httpMethod} ${route.template.template} takes no request body`);
  } else {
    const json = route.body.kind === "all" ? parts.body : { [route.body.field.name]: parts.body };
    message = fromRestJson(input, json, { registry });
  }

  const overlay: JsonObject = {};
  for (const [name, value] of parseQuery(parts.query)) {
    if (route.body.kind === "all") {
      const reason = "query parameters are not accepted here: the request body carries every field";
      throw new InvalidArgumentError(name.slice(0, 128), reason);
    }
    const chain = resolveQueryName(input, name);
    const fieldPath = chain.map((f) => f.name).join(".");
    if (route.pathFields.has(fieldPath)) throw new InvalidArgumentError(fieldPath, "is set by the URL path");
    if (route.body.kind === "field" && chain[0] === route.body.field) {
      throw new InvalidArgumentError(fieldPath, "is carried by the request body");
    }
    setField(overlay, chain, fieldPath, value);
  }
  for (const [fieldPath, value] of parts.bindings) {
    const chain = route.pathFields.get(fieldPath);
    if (chain !== undefined) setField(overlay, chain, fieldPath, value);
  }
  return Object.keys(overlay).length === 0 ? message : fromRestJson(input, overlay, { registry, target: message });
}

/** Splits a query string into decoded name/value pairs ('+' is a space, as in HTML forms). */
function parseQuery(query: string): [string, string][] {
  const pairs: [string, string][] = [];
  for (const piece of query.split("&")) {
    if (piece === "") continue;
    const eq = piece.indexOf("=");
    const rawName = eq === -1 ? piece : piece.slice(0, eq);
    const rawValue = eq === -1 ? "" : piece.slice(eq + 1);
    pairs.push([decodeQueryComponent(rawName), decodeQueryComponent(rawValue)]);
  }
  return pairs;
}

function decodeQueryComponent(raw: string): string {
  try {
    return decodeURIComponent(raw.replaceAll("+", " "));
  } catch (err) {
    const near = JSON.stringify(raw.slice(0, 64));
    throw new InvalidArgumentError("", `malformed percent-encoding in query string near ${near}`, { cause: err });
  }
}

// Each dotted part may be the proto name or the JSON name; all but the last must be singular
// messages, and the last something a string can carry.
function resolveQueryName(input: DescMessage, name: string): DescField[] {
  const chain: DescField[] = [];
  let message: DescMessage | undefined = input;
  for (const part of name.split(".")) {
    const field: DescField | undefined = message?.fields.find((f) => f.name === part || f.jsonName === part);
    if (field === undefined) throw new InvalidArgumentError(name.slice(0, 128), "unknown query parameter");
    chain.push(field);
    const isLeafMessage: boolean =
      field.fieldKind !== "message" || STRING_WELL_KNOWN.has(field.message.typeName) || isWrapperDesc(field.message);
    message = isLeafMessage ? undefined : field.message;
  }
  const leaf = chain[chain.length - 1];
  const isMessageList = leaf?.fieldKind === "list" && leaf.listKind === "message";
  if (leaf === undefined || message !== undefined || leaf.fieldKind === "map" || isMessageList) {
    const reason = "cannot be set from a query parameter; use dotted names for the fields of a message";
    throw new InvalidArgumentError(name, reason);
  }
  return chain;
}

// Sets the (string) value at the chain's position in the overlay, converted to the JSON form of
// the leaf field; lists collect repeated keys, singular fields may appear once.
function setField(overlay: JsonObject, chain: readonly DescField[], fieldPath: string, raw: string): void {
  let node = overlay;
  for (const field of chain.slice(0, -1)) {
    const next = node[field.name];
    if (typeof next === "object" && next !== null && !Array.isArray(next)) node = next;
    else node = node[field.name] = {};
  }
  const leaf = chain[chain.length - 1];
  if (leaf === undefined) return;
  const value = stringToJson(leaf, raw, fieldPath);
  const existing = node[leaf.name];
  if (leaf.fieldKind === "list") {
    if (Array.isArray(existing)) existing.push(value);
    else node[leaf.name] = [value];
  } else if (existing !== undefined) {
    throw new InvalidArgumentError(fieldPath, "given more than once");
  } else {
    node[leaf.name] = value;
  }
}

// Only bool needs converting: proto3 JSON parsers accept strings for every number type, enums are
// resolved by name in rest-json, and the string well-known types are strings already.
function stringToJson(field: DescField, raw: string, fieldPath: string): JsonValue {
  const isBool =
    field.scalar === ScalarType.BOOL || (field.message !== undefined && field.message.typeName === "google.protobuf.BoolValue");
  if (isBool) {
    if (raw === "true") return true;
    if (raw === "false") return false;
    throw new InvalidArgumentError(fieldPath, "expected true or false");
  }
  if (field.enum !== undefined && /^-?\d+$/.test(raw)) return Number(raw);
  return raw;
}
