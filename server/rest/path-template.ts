/**
 * Compiles google.api.http path templates (the "Path template syntax" of
 * proto/third_party/google/api/http.proto) into matchers that return the variable bindings of a
 * request path, percent-decoded as that spec prescribes. It owns syntax and decoding only: which
 * request fields the variables name, and HTTP methods, belong to http-rules.ts.
 */

/** A template that cannot be parsed; thrown at start-up so a bad annotation never serves traffic. */
export class PathTemplateError extends Error {
  override readonly name = "PathTemplateError";
  readonly template: string;
  /** Character offset in `template` where parsing failed. */
  readonly position: number;
  constructor(template: string, position: number, reason: string) {
    super(`invalid path template "${template}" at offset ${position}: ${reason}`);
    this.template = template;
    this.position = position;
  }
}

/** One `{field.path}` or `{field.path=segments}` variable of a template. */
export interface TemplateVariable {
  /** Dotted proto field path, e.g. "provider.name". */
  readonly fieldPath: string;
  /** True when the variable spans several segments or `**`: then "%2F" stays encoded (spec). */
  readonly isMultiSegment: boolean;
}

/** A compiled path template. */
export interface PathTemplate {
  /** The template as written in the annotation. */
  readonly template: string;
  readonly variables: readonly TemplateVariable[];
  /** The custom verb after the last ':' ("revoke"), or undefined. */
  readonly verb: string | undefined;
  /**
   * Sort key: among templates matching the same path, the one with the smallest rank is the most
   * specific (a verb first, then literals before `*` before `**`, segment by segment).
   */
  readonly rank: string;
  /**
   * Matches a raw (still percent-encoded) URL path, without query string. Returns the decoded
   * variable values by field path, or undefined when the path does not match.
   * @throws URIError when a variable's percent-encoding is malformed or not UTF-8; its `field`
   *   property names the variable's field path.
   */
  match(rawPath: string): Map<string, string> | undefined;
}

type Segment = { kind: "literal"; value: string } | { kind: "wildcard" } | { kind: "deep-wildcard" };

interface VariableRange extends TemplateVariable {
  /** Index of the variable's first template segment. */
  readonly start: number;
  /** Index after the variable's last template segment. */
  readonly end: number;
}

// RFC 3986 pchar minus ':' (verb separator) and '%' (a literal must be written decoded).
const LITERAL_CHAR = /[A-Za-z0-9\-._~!$&'()+,;=@]/;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Compiles one path template.
 * @throws PathTemplateError for anything outside the grammar: missing leading '/', empty or
 *   unknown segments, nested variables, `**` before the last segment, repeated variables.
 */
export function compilePathTemplate(template: string): PathTemplate {
  const segments: Segment[] = [];
  const variables: VariableRange[] = [];
  let pos = 0;
  const fail = (reason: string): never => {
    throw new PathTemplateError(template, pos, reason);
  };
  const describe = (c: string | undefined) => (c === undefined ? "end of template" : `'${c}'`);

  const parseLiteral = (): string => {
    const start = pos;
    while (pos < template.length && LITERAL_CHAR.test(template.charAt(pos))) pos++;
    return template.slice(start, pos);
  };

  const parseFieldPath = (): string => {
    const start = pos;
    while (pos < template.length && /[A-Za-z0-9_.]/.test(template.charAt(pos))) pos++;
    const path = template.slice(start, pos);
    if (!path.split(".").every((part) => IDENT.test(part))) {
      pos = start;
      fail(`expected a field path such as "name" or "provider.name", got "${path}"`);
    }
    return path;
  };

  const parseSegments = (inVariable: boolean): void => {
    for (;;) {
      parseSegment(inVariable);
      if (template[pos] !== "/") return;
      pos++;
    }
  };

  const parseSegment = (inVariable: boolean): void => {
    const c = template[pos];
    if (c === "*") {
      const isDeep = template[pos + 1] === "*";
      pos += isDeep ? 2 : 1;
      segments.push({ kind: isDeep ? "deep-wildcard" : "wildcard" });
      return;
    }
    if (c === "{") {
      if (inVariable) fail("variables cannot nest");
      pos++;
      const fieldPath = parseFieldPath();
      const start = segments.length;
      if (template[pos] === "=") {
        pos++;
        parseSegments(true);
      } else {
        segments.push({ kind: "wildcard" });
      }
      if (template[pos] !== "}") fail(`expected '}' but found ${describe(template[pos])}`);
      pos++;
      const end = segments.length;
      const isMultiSegment = end - start > 1 || segments[start]?.kind === "deep-wildcard";
      variables.push({ fieldPath, start, end, isMultiSegment });
      return;
    }
    const value = parseLiteral();
    if (value === "") fail(`expected a segment but found ${describe(c)}`);
    segments.push({ kind: "literal", value });
  };

  if (template[0] !== "/") fail("must start with '/'");
  pos = 1;
  parseSegments(false);
  let verb: string | undefined;
  if (template[pos] === ":") {
    pos++;
    verb = parseLiteral();
    if (verb === "") fail("empty verb after ':'");
  }
  if (pos !== template.length) fail(`unexpected ${describe(template[pos])}`);

  const deepIndex = segments.findIndex((s) => s.kind === "deep-wildcard");
  if (deepIndex !== -1 && deepIndex !== segments.length - 1) {
    pos = template.indexOf("**");
    fail("'**' must be the last segment");
  }
  const seen = new Set<string>();
  for (const v of variables) {
    if (seen.has(v.fieldPath)) {
      pos = template.indexOf(`{${v.fieldPath}`);
      fail(`variable "${v.fieldPath}" appears twice`);
    }
    seen.add(v.fieldPath);
  }

  const rank =
    (verb === undefined ? "1" : "0") + segments.map((s) => (s.kind === "literal" ? "0" : s.kind === "wildcard" ? "1" : "2")).join("");

  return {
    template,
    variables: variables.map(({ fieldPath, isMultiSegment }) => ({ fieldPath, isMultiSegment })),
    verb,
    rank,
    match: (rawPath) => matchPath(segments, variables, verb, rawPath),
  };
}

function matchPath(
  segments: readonly Segment[],
  variables: readonly VariableRange[],
  verb: string | undefined,
  rawPath: string,
): Map<string, string> | undefined {
  let path = rawPath;
  if (verb !== undefined) {
    // The verb is matched on the raw path: an encoded ':' ("%3A") is data, not a separator.
    const suffix = `:${verb}`;
    if (!path.endsWith(suffix)) return undefined;
    path = path.slice(0, -suffix.length);
  }
  if (!path.startsWith("/")) return undefined;
  const parts = splitPath(path);
  const hasDeep = segments.at(-1)?.kind === "deep-wildcard";
  const fixed = hasDeep ? segments.length - 1 : segments.length;
  if (hasDeep ? parts.length < fixed : parts.length !== fixed) return undefined;
  for (let i = 0; i < fixed; i++) {
    const segment = segments[i];
    const part = parts[i] ?? "";
    if (segment?.kind === "literal") {
      // Only a percent-encoded part can decode to something else than itself.
      if (part !== segment.value && (!part.includes("%") || safeDecode(part) !== segment.value)) return undefined;
    } else if (part === "") {
      // A '*' stands for one non-empty segment: "/v1/connections//x" is not an empty id.
      return undefined;
    }
  }
  const bindings = new Map<string, string>();
  for (const v of variables) {
    const end = hasDeep && v.end === segments.length ? parts.length : v.end;
    const raw = parts.slice(v.start, end).join("/");
    try {
      bindings.set(v.fieldPath, v.isMultiSegment ? decodeKeepingSlashes(raw) : decodeURIComponent(raw));
    } catch (err) {
      // Say which field, so REST names it as the RPC protocols do for the same bytes.
      throw Object.assign(new URIError(`${v.fieldPath}: malformed percent-encoding or not UTF-8`, { cause: err }), { field: v.fieldPath });
    }
  }
  return bindings;
}

// A request's path is tried against every route's template in turn: it is split once, not once per
// route. One entry is enough (the routes are tried back to back); the parts are never modified.
let lastPath = "/";
let lastParts: readonly string[] = [""];

function splitPath(path: string): readonly string[] {
  if (path !== lastPath) {
    lastParts = path.slice(1).split("/");
    lastPath = path;
  }
  return lastParts;
}

function safeDecode(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined; // malformed: cannot equal a literal, which is plain text
  }
}

// http.proto: for multi-segment variables "the server side does the reverse decoding, except
// "%2F" and "%2f" are left unchanged".
function decodeKeepingSlashes(raw: string): string {
  return raw
    .split(/(%2F)/i)
    .map((part, i) => (i % 2 === 1 ? part : decodeURIComponent(part)))
    .join("");
}
