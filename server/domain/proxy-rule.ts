/**
 * Proxy rules: what an agent key may call through `/v1/proxy/{connection_id}/{path…}`. A rule names
 * one provider, the HTTP methods it allows and one path pattern; a key carries up to
 * `MAX_PROXY_RULES` of them, and a call is allowed when any rule of the call's provider matches
 * both its method and its path. There are only allow rules: whatever no rule matches is refused.
 *
 * The language, decided once here:
 * - **Text form** `provider:METHODS:/pattern`, e.g. `github:GET,HEAD:/repos/**` (CLI flag, docs).
 *   The pattern is everything after the second colon, so it may itself hold colons.
 * - **Methods**: a comma list of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, or `*` alone for
 *   all of them. Input is case-insensitive and stored upper case, without duplicates, sorted in
 *   that order. A call's method is compared upper case.
 * - **Pattern**: starts with `/`; segments separated by `/`. `*` is exactly one non-empty segment,
 *   `**` is any number of segments (zero too: `/repos/**` matches `/repos` and `/repos/a/b/c`).
 *   Any other segment is a literal compared case-sensitively (RFC 3986 paths are case-sensitive;
 *   with allow rules only, a differently cased path is refused, never let through). A wildcard
 *   never sits inside a segment (`repo*` is refused), and `.`/`..` or empty segments are refused,
 *   except one trailing `/`. A trailing slash is significant, because providers route `/a` and
 *   `/a/` apart: `/user/` matches only `/user/`, `/user` only `/user` (`/user/**` matches both).
 * - **Percent-encoding**: matching is on the decoded path. The call's path is split on `/` first
 *   and each segment decoded, so `/rep%6Fs/x` is `/repos/x` (as the provider will read it) and an
 *   encoding cannot dodge or satisfy a rule. A segment that does not decode is refused. Pattern
 *   literals are decoded text and may not contain `%`, `?`, `#`, whitespace or control characters.
 */

/** One allow rule of an API key. */
export interface ProxyRule {
  /** Provider name (the profile's name), e.g. "github". */
  readonly provider: string;
  /** Allowed methods, upper case, canonical order; `["*"]` for every method. */
  readonly methods: readonly string[];
  /** Path pattern, e.g. "/repos/**". */
  readonly path: string;
}

/** Methods a rule may name, in their canonical order. */
export const PROXY_METHODS: readonly string[] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
/** Most rules one key may carry. */
export const MAX_PROXY_RULES = 32;
/** Longest path pattern, characters. */
export const MAX_PROXY_PATTERN_LENGTH = 512;
/** Longest provider name in a rule (the provider-name limit). */
export const MAX_PROXY_PROVIDER_LENGTH = 64;

const PROVIDER_NAME = /^[a-z0-9][a-z0-9_-]*$/;
// Printable, no whitespace, no "/", "?", "#", "%" (patterns are decoded text), no "*" in literals.
const LITERAL_SEGMENT = /^[^\s/?#%*\p{Cc}]+$/u;

/** What is wrong with a rule: the field at fault and why (never echoing more than a short excerpt). */
export interface ProxyRuleProblem {
  readonly field: "provider" | "methods" | "path" | "";
  readonly problem: string;
}

/** A rule checked and put in canonical form, or what is wrong with it. */
export function normalizeProxyRule(rule: ProxyRule): ProxyRule | ProxyRuleProblem {
  if (rule.provider === "") return { field: "provider", problem: "is required" };
  if (rule.provider.length > MAX_PROXY_PROVIDER_LENGTH || !PROVIDER_NAME.test(rule.provider)) {
    return {
      field: "provider",
      problem: `must be a provider name (lower-case letters, digits, "-" or "_", at most ${MAX_PROXY_PROVIDER_LENGTH} characters)`,
    };
  }
  const methods = normalizeMethods(rule.methods);
  if (typeof methods === "string") return { field: "methods", problem: methods };
  const patternProblem = checkPattern(rule.path);
  if (patternProblem !== null) return { field: "path", problem: patternProblem };
  return { provider: rule.provider, methods, path: rule.path };
}

/** Whether a normalisation result is a problem. */
export function isProxyRuleProblem(value: ProxyRule | ProxyRuleProblem): value is ProxyRuleProblem {
  return "problem" in value;
}

/** A key's rule list checked (count, each rule, no duplicate); the first problem with its index. */
export function normalizeProxyRules(
  rules: readonly ProxyRule[],
): { rules: ProxyRule[] } | { index: number; field: ProxyRuleProblem["field"]; problem: string } {
  if (rules.length > MAX_PROXY_RULES) return { index: -1, field: "", problem: `at most ${MAX_PROXY_RULES} rules per key` };
  const out: ProxyRule[] = [];
  const seen = new Set<string>();
  for (const [index, rule] of rules.entries()) {
    const normalized = normalizeProxyRule(rule);
    if (isProxyRuleProblem(normalized)) return { index, ...normalized };
    const text = formatProxyRule(normalized);
    if (seen.has(text)) return { index, field: "", problem: "duplicate rule" };
    seen.add(text);
    out.push(normalized);
  }
  return { rules: out };
}

function normalizeMethods(methods: readonly string[]): string[] | string {
  if (methods.length === 0) return 'is required (e.g. "GET,HEAD", or "*" for all)';
  const upper = methods.map((method) => method.trim().toUpperCase());
  if (upper.includes("*")) return upper.length === 1 ? ["*"] : '"*" stands alone: it already allows every method';
  for (const method of upper) {
    if (!PROXY_METHODS.includes(method)) return `"${method.slice(0, 16)}" is not one of ${PROXY_METHODS.join(", ")} or "*"`;
  }
  return PROXY_METHODS.filter((method) => upper.includes(method));
}

function checkPattern(pattern: string): string | null {
  if (pattern.length > MAX_PROXY_PATTERN_LENGTH) return `must be at most ${MAX_PROXY_PATTERN_LENGTH} characters`;
  if (!pattern.startsWith("/")) return 'must start with "/"';
  if (pattern === "/") return null;
  const segments = pattern.slice(1).split("/");
  for (const [index, segment] of segments.entries()) {
    const last = index === segments.length - 1;
    if (segment === "") {
      if (last) continue; // trailing slash
      return 'has an empty segment ("//")';
    }
    if (segment === "*" || segment === "**") continue;
    if (segment === "." || segment === "..") return 'may not hold "." or ".." segments';
    if (segment.includes("*")) return `"*" must be a whole segment ("*" or "**"), not part of "${segment.slice(0, 32)}"`;
    if (!LITERAL_SEGMENT.test(segment)) {
      return 'segments may not contain "%", "?", "#", whitespace or control characters (write them decoded)';
    }
  }
  return null;
}

/** The text form `provider:METHODS:/pattern` of a rule. */
export function formatProxyRule(rule: ProxyRule): string {
  return `${rule.provider}:${rule.methods.join(",")}:${rule.path}`;
}

/** The text of a rule without its provider, as decisions and audit rows name it: "GET,HEAD /repos/**". */
export function describeProxyRule(rule: ProxyRule): string {
  return `${rule.methods.join(",")} ${rule.path}`;
}

/** Parses the text form; a string says what is wrong ("path: must start with …"). The result is normalised. */
export function parseProxyRule(text: string): ProxyRule | string {
  const first = text.indexOf(":");
  const second = first < 0 ? -1 : text.indexOf(":", first + 1);
  if (first < 0 || second < 0) return 'a proxy rule is "provider:METHODS:/path", e.g. "github:GET,HEAD:/repos/**"';
  const methods = text.slice(first + 1, second);
  const rule = normalizeProxyRule({
    provider: text.slice(0, first),
    methods: methods === "" ? [] : methods.split(","),
    path: text.slice(second + 1),
  });
  return isProxyRuleProblem(rule) ? `${rule.field}: ${rule.problem}` : rule;
}

/** Whether a (normalised) rule allows a method on a path; `path` is the percent-encoded request path. */
export function proxyRuleMatches(rule: ProxyRule, method: string, path: string): boolean {
  if (!(rule.methods.length === 1 && rule.methods[0] === "*") && !rule.methods.includes(method.toUpperCase())) return false;
  const segments = decodedSegments(path);
  if (segments === null) return false;
  return matchSegments(rule.path === "/" ? [""] : rule.path.slice(1).split("/"), segments);
}

/** The decoded segments of a path ("/a/b" → ["a", "b"], "/" → [""]); null when it is not a path or a segment does not decode. */
export function decodedSegments(path: string): string[] | null {
  if (!path.startsWith("/")) return null;
  const out: string[] = [];
  for (const raw of path.slice(1).split("/")) {
    try {
      out.push(decodeURIComponent(raw));
    } catch {
      return null;
    }
  }
  return out;
}

// Glob match of pattern segments against path segments; "**" backtracks (patterns are short and
// capped, the path's segment count bounds the work: O(pattern × path) with the memo).
function matchSegments(pattern: readonly string[], path: readonly string[]): boolean {
  const memo = new Map<number, boolean>();
  const at = (p: number, s: number): boolean => {
    const key = p * (path.length + 1) + s;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let result: boolean;
    if (p === pattern.length) result = s === path.length;
    else if (pattern[p] === "**") result = at(p + 1, s) || (s < path.length && at(p, s + 1));
    else if (s === path.length) result = false;
    else if (pattern[p] === "*") result = path[s] !== "" && at(p + 1, s + 1);
    else result = pattern[p] === path[s] && at(p + 1, s + 1);
    memo.set(key, result);
    return result;
  };
  return at(0, 0);
}
