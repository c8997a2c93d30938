/**
 * Request-field checks shared by every protocol: each throws InvalidArgumentError naming the proto
 * field, so REST, Connect, gRPC and gRPC-Web report the same field and reason. `checkMessageText`
 * runs on every request message (input interceptor); `jsonUtf8Error` on every JSON body before
 * it is parsed (REST body reader, RPC wire guard), because parsing replaces bad bytes silently.
 */
import { type DescField, type DescMessage, type Message, ScalarType } from "@bufbuild/protobuf";
import { type ReflectMessage, reflect } from "@bufbuild/protobuf/reflect";
import { InvalidArgumentError } from "../domain/errors.ts";

const ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
// Unicode Cc (C0 controls incl. NUL, DEL, C1 controls) and U+FFFD, which is what a lenient decoder
// leaves where the bytes were not UTF-8. Lone surrogates are caught by isWellFormed().
const FORBIDDEN_CHARS = /[\u0000-\u001f\u007f-\u009f\ufffd]/;
// Fields whose values are secrets or opaque blobs the caller owns: checked for UTF-8 only.
const FREE_FORM_FIELDS = new Set(["client_secret"]);

/** Checks an opaque id such as connection_id: required, 1-128 of [A-Za-z0-9_-]. */
export function requireId(field: string, value: string): string {
  if (value === "") throw new InvalidArgumentError(field, "is required");
  if (!ID_PATTERN.test(value)) {
    throw new InvalidArgumentError(field, "must be 1-128 characters of letters, digits, '_' or '-'");
  }
  return value;
}

/**
 * Checks one identifier or name: no control characters (NUL included), no U+FFFD and no lone
 * surrogate. They cannot be stored everywhere (PostgreSQL refuses NUL), break logs and headers, and
 * make two ids look alike.
 */
export function checkText(field: string, value: string): void {
  if (FORBIDDEN_CHARS.test(value) || !value.isWellFormed()) {
    throw new InvalidArgumentError(field, "must be valid UTF-8 without control characters");
  }
}

/**
 * Checks every string of a request message (fields, list items, map keys and values, nested
 * messages) with `checkText`; google.protobuf types (Struct, Value…) and free-form secrets are
 * skipped. Field paths are proto names joined by dots, e.g. `oauth2.token_endpoint`.
 */
export function checkMessageText(desc: DescMessage, message: Message): void {
  checkReflected(reflect(desc, message), "");
}

function checkReflected(message: ReflectMessage, prefix: string): void {
  if (message.desc.typeName.startsWith("google.protobuf.")) return;
  for (const field of message.fields) {
    if (!message.isSet(field)) continue;
    const path = prefix + field.name;
    const isFreeForm = FREE_FORM_FIELDS.has(field.name);
    switch (field.fieldKind) {
      case "scalar":
        if (field.scalar === ScalarType.STRING && !isFreeForm) checkText(path, message.get(field) as string);
        break;
      case "message":
        checkReflected(message.get(field), `${path}.`);
        break;
      case "list":
        for (const item of message.get(field)) {
          if (field.listKind === "message") checkReflected(item as ReflectMessage, `${path}.`);
          else if (field.scalar === ScalarType.STRING && !isFreeForm) checkText(path, item as string);
        }
        break;
      case "map":
        for (const [key, value] of message.get(field)) {
          if (field.mapKey === ScalarType.STRING) checkText(path, String(key));
          if (field.mapKind === "message") checkReflected(value as ReflectMessage, `${path}.`);
          else if (field.scalar === ScalarType.STRING && !isFreeForm) checkText(path, value as string);
        }
        break;
      case "enum":
        break;
    }
  }
}

/**
 * `value` made safe to store and log: control characters become visible `\uXXXX` escapes and lone
 * surrogates U+FFFD. For text that is recorded before (or whether or not) a request passes the
 * checks above, e.g. audit details (PostgreSQL refuses NUL in text).
 */
export function printable(value: string): string {
  return value.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).toWellFormed();
}

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });
const LENIENT_UTF8 = new TextDecoder("utf-8");

/**
 * Returns the error for a JSON body that is not valid UTF-8 (RFC 8259 §8.1), naming the field
 * whose string holds the bad bytes when the rest parses; undefined when the bytes are valid.
 * `input` maps JSON names (userId) to proto names (user_id).
 */
export function jsonUtf8Error(bytes: Uint8Array, input?: DescMessage): InvalidArgumentError | undefined {
  try {
    STRICT_UTF8.decode(bytes);
    return undefined;
  } catch (err) {
    let field: string | undefined;
    try {
      field = findReplacement(JSON.parse(LENIENT_UTF8.decode(bytes)), input, "");
    } catch {
      field = undefined; // not JSON either: the body as a whole is at fault
    }
    return field
      ? new InvalidArgumentError(field, "must be valid UTF-8 without control characters", { cause: err })
      : new InvalidArgumentError("", "request body is not valid UTF-8", { cause: err });
  }
}

function findReplacement(value: unknown, desc: DescMessage | undefined, path: string): string | undefined {
  if (typeof value === "string") return value.includes("\ufffd") ? path || "(body)" : undefined;
  if (Array.isArray(value)) {
    for (const item of value) {
      const found = findReplacement(item, desc, path);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  for (const [key, child] of Object.entries(value)) {
    const field: DescField | undefined = desc?.fields.find((f) => f.jsonName === key || f.name === key);
    const childPath = (path ? `${path}.` : "") + (field?.name ?? key);
    if (key.includes("\ufffd")) return childPath;
    // A map field's object holds keys, not fields: report the map field itself.
    const isMap = field?.fieldKind === "map";
    const found = findReplacement(child, isMap ? undefined : field?.message, childPath);
    if (found !== undefined) return isMap ? childPath : found;
  }
  return undefined;
}
