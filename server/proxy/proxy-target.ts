/**
 * Where a proxied request goes: `/v1/proxy/{connection_id}/{path…}?{query}` is split into the
 * connection id and the provider-relative path and query, the path is normalised and checked, and
 * the result is appended to the provider's API base URL. The rules keep the call on the base URL:
 * no `.` or `..` segments (plain, percent-encoded or with `;` parameters), no empty segments (so no
 * `//host` or `https://host` inside the path), no encoded slash, backslash or NUL, no raw
 * backslash, no `#` (it would cut the path short after the rules matched all of it); the target's scheme, host, port and path prefix are checked again after URL parsing.
 * `@` in a path is an ordinary character (Discord's `/users/@me`): the path is never parsed as a
 * URL of its own, so it cannot become user info.
 */

/** The route prefix; what follows is `{connection_id}` and the provider path. */
export const PROXY_PREFIX = "/v1/proxy/";

/** A proxied request's parts, from its request target. */
export interface ProxyRequestTarget {
  connectionId: string;
  /** Provider-relative path, normalised, always starting with "/" ("/" when none was given). */
  path: string;
  /** The query string without "?", as sent (empty when none). */
  query: string;
}

/** Why a request target cannot be proxied (the message is safe to show the caller). */
export class ProxyPathError extends Error {
  override readonly name = "ProxyPathError";
}

const CONNECTION_ID = /^[A-Za-z0-9_-]{1,128}$/;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
/** A segment of unreserved characters only: no escape, separator, parameter or space (checkSegment passes it unless it is `.` or `..`). */
const PLAIN_SEGMENT = /^[A-Za-z0-9\-._~]*$/;

/** Whether a request target is a proxy call (starts with the prefix; absolute-form targets never are). */
export function isProxyTarget(url: string | undefined): boolean {
  return url?.startsWith(PROXY_PREFIX) === true;
}

/**
 * Splits and normalises a proxy request target (the raw `req.url`).
 * @throws ProxyPathError when the path is not acceptable.
 */
export function parseProxyTarget(url: string): ProxyRequestTarget {
  if (!isProxyTarget(url)) throw new ProxyPathError("not a proxy path");
  const rest = url.slice(PROXY_PREFIX.length);
  const queryAt = rest.indexOf("?");
  const pathPart = queryAt === -1 ? rest : rest.slice(0, queryAt);
  const query = queryAt === -1 ? "" : rest.slice(queryAt + 1);
  const slash = pathPart.indexOf("/");
  const connectionId = slash === -1 ? pathPart : pathPart.slice(0, slash);
  if (!CONNECTION_ID.test(connectionId)) throw new ProxyPathError("connection id must be 1-128 letters, digits, '_' or '-'");
  const path = normalizePath(slash === -1 ? "/" : pathPart.slice(slash));
  if (/[#\s\\]/.test(query) || /[^\x21-\x7e]/.test(query))
    throw new ProxyPathError("query contains a character that is not allowed (percent-encode non-ASCII)");
  return { connectionId, path, query };
}

/**
 * RFC 3986 §6.2.2 normalisation of a path (percent-escapes of unreserved characters decoded, the rest
 * upper-cased), refusing anything that could leave the base path. "/" stays "/"; a trailing slash is kept.
 * @throws ProxyPathError
 */
export function normalizePath(path: string): string {
  if (!path.startsWith("/")) throw new ProxyPathError("path must start with '/'");
  if (path.includes("\\")) throw new ProxyPathError("path must not contain a backslash");
  // A '#' would end the path at URL parsing, after the rules saw the whole of it.
  if (path.includes("#")) throw new ProxyPathError("path must not contain '#'");
  if (/\p{Cc}|\s/u.test(path)) throw new ProxyPathError("path must not contain control characters or spaces");
  // Raw non-ASCII: HTTP/1.1's parser refuses it before Nexus sees it; HTTP/2 would pass it. The same
  // target gets the same answer on both, and the rules match what is sent: percent-encode it.
  if (/[^\x21-\x7e]/.test(path)) throw new ProxyPathError("path must be ASCII: percent-encode other characters");
  if (path === "/") return path;
  const segments = path.slice(1).split("/");
  const out: string[] = [];
  segments.forEach((segment, index) => {
    const isLast = index === segments.length - 1;
    if (segment === "" && !isLast) throw new ProxyPathError("path must not contain an empty segment ('//')");
    const normalized = segment.includes("%") ? normalizeSegment(segment) : segment;
    // Plain unreserved ASCII (the usual segment) decodes and folds to itself: nothing to check.
    if (!PLAIN_SEGMENT.test(normalized) || normalized === "." || normalized === "..") checkSegment(normalized);
    out.push(normalized);
  });
  return `/${out.join("/")}`;
}

function normalizeSegment(segment: string): string {
  return segment.replace(/%(..)?/g, (_escape, hex: string | undefined) => {
    if (hex === undefined || !/^[0-9A-Fa-f]{2}$/.test(hex)) throw new ProxyPathError("path has a malformed percent-escape");
    const upper = hex.toUpperCase();
    // An encoded slash or backslash would be one segment here and two at a server that decodes it;
    // an encoded NUL ends strings in some servers.
    if (upper === "2F" || upper === "5C" || upper === "00") throw new ProxyPathError("path must not contain an encoded '/', '\\' or NUL");
    const char = String.fromCharCode(Number.parseInt(upper, 16));
    return UNRESERVED.test(char) ? char : `%${upper}`;
  });
}

/**
 * Refuses a segment that some server on the way may read as `.`, `..` or a path separator: after
 * decoding (strict UTF-8, so overlong forms such as `%C0%AE` are refused, not passed on to a lenient
 * decoder), before a `;` parameter (Tomcat, Spring: `..;x`, `..%3Bx`), with surrounding whitespace
 * trimmed (IIS: `..%20`), and after Unicode compatibility folding (`%EF%BC%8E` fullwidth dot,
 * `‥` two-dot leader, `%EF%BC%8F` fullwidth solidus: servers that NFKC-normalise see `.`, `..`, `/`).
 */
function checkSegment(normalized: string): void {
  let decoded: string;
  try {
    decoded = decodeURIComponent(normalized);
  } catch {
    throw new ProxyPathError("path has a percent-escape that is not valid UTF-8");
  }
  for (const form of [decoded, decoded.normalize("NFKC")]) {
    if (form.includes("/") || form.includes("\\")) throw new ProxyPathError("path must not contain an encoded or look-alike '/' or '\\'");
    const bare = (form.split(";")[0] ?? "").trim();
    if (bare === "." || bare === "..") throw new ProxyPathError("path must not contain '.' or '..' segments");
  }
}

/**
 * The URL to call: `base` (a filled api_base_url, no query) plus the normalised path and the query.
 * Checks after parsing that scheme, host, port and the base path prefix are those of `base`.
 * @throws ProxyPathError
 */
export function targetUrl(base: string, target: Pick<ProxyRequestTarget, "path" | "query">): URL {
  const baseUrl = new URL(base);
  const prefix = baseUrl.pathname.replace(/\/+$/, "");
  const url = new URL(`${baseUrl.origin}${prefix}${target.path}${target.query === "" ? "" : `?${target.query}`}`);
  const isUnder = url.pathname === `${prefix}${target.path}` || url.pathname.startsWith(`${prefix}/`);
  if (
    url.protocol !== baseUrl.protocol ||
    url.host !== baseUrl.host ||
    url.username !== "" ||
    url.password !== "" ||
    !isUnder ||
    (prefix !== "" && url.pathname !== prefix && !url.pathname.startsWith(`${prefix}/`))
  ) {
    throw new ProxyPathError("path leaves the provider's API base URL");
  }
  return url;
}
