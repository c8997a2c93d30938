/**
 * RFC 6901 JSON pointers, as provider profiles use them to pick values out of a provider's JSON
 * answers (account lookup, token-response extras): syntax check and evaluation. Only scalar values
 * are picked: a string as is, a number or boolean as its JSON text; anything else is "not there".
 * @see https://www.rfc-editor.org/rfc/rfc6901
 */

/** Longest pointer accepted in a profile. */
export const MAX_JSON_POINTER_LENGTH = 256;

/** Why `pointer` is not a usable RFC 6901 pointer, or undefined when it is. "" (the whole document) is refused. */
export function jsonPointerProblem(pointer: string): string | undefined {
  if (pointer.length > MAX_JSON_POINTER_LENGTH) return `must be at most ${MAX_JSON_POINTER_LENGTH} characters`;
  if (!pointer.startsWith("/") || pointer === "/") return 'must be an RFC 6901 JSON pointer to a member, e.g. "/id"';
  // RFC 6901 §3: "~" is only ever followed by 0 or 1.
  if (/~(?![01])/.test(pointer)) return "has a '~' not followed by 0 or 1 (RFC 6901 escapes are ~0 and ~1)";
  return undefined;
}

/** The reference tokens of a valid pointer, unescaped (~1 → "/", then ~0 → "~"). */
function tokens(pointer: string): string[] {
  return pointer
    .slice(1)
    .split("/")
    .map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"));
}

/** The scalar at `pointer` in `document` as a string, or undefined when absent, null or not a scalar. */
export function pickScalar(document: unknown, pointer: string): string | undefined {
  if (jsonPointerProblem(pointer) !== undefined) return undefined;
  let current: unknown = document;
  for (const token of tokens(pointer)) {
    if (Array.isArray(current)) {
      if (!/^(0|[1-9][0-9]*)$/.test(token)) return undefined;
      current = current[Number(token)];
    } else if (typeof current === "object" && current !== null && Object.hasOwn(current, token)) {
      current = (current as Record<string, unknown>)[token];
    } else {
      return undefined;
    }
  }
  if (typeof current === "string") return current;
  if (typeof current === "number" && Number.isFinite(current)) return String(current);
  if (typeof current === "boolean") return String(current);
  return undefined;
}
