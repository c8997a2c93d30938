/**
 * A minimal cookie jar for driving browser flows with fetch in tests: stores Set-Cookie by name,
 * host and path (RFC 6265 §5.1.4 path matching), honours Max-Age=0 / past Expires as deletion.
 * Enough for oidc-provider's interaction cookies; not a general-purpose implementation.
 */

interface StoredCookie {
  name: string;
  value: string;
  host: string;
  path: string;
}

/** Cookies per host and path. */
export interface CookieJar {
  /** Records the Set-Cookie headers of a response to `url`. */
  store(url: string, response: Response): void;
  /** The Cookie header value for a request to `url` ("" when none). */
  header(url: string): string;
}

/** Creates an empty jar. */
export function createCookieJar(): CookieJar {
  const cookies = new Map<string, StoredCookie>();
  return {
    store(url, response) {
      const target = new URL(url);
      for (const line of response.headers.getSetCookie()) {
        const [pair = "", ...attributes] = line.split(";").map((p) => p.trim());
        const eq = pair.indexOf("=");
        if (eq <= 0) continue;
        const cookie: StoredCookie = { name: pair.slice(0, eq), value: pair.slice(eq + 1), host: target.host, path: defaultPath(target) };
        let deleted = false;
        for (const attribute of attributes) {
          const [key = "", value = ""] = attribute.split("=");
          if (key.toLowerCase() === "path" && value.startsWith("/")) cookie.path = value;
          if (key.toLowerCase() === "max-age" && Number(value) <= 0) deleted = true;
          if (key.toLowerCase() === "expires" && Date.parse(attribute.slice(8)) <= Date.now()) deleted = true;
        }
        const key = `${cookie.host} ${cookie.path} ${cookie.name}`;
        if (deleted) cookies.delete(key);
        else cookies.set(key, cookie);
      }
    },
    header(url) {
      const target = new URL(url);
      return [...cookies.values()]
        .filter((c) => c.host === target.host && pathMatches(target.pathname, c.path))
        .map((c) => `${c.name}=${c.value}`)
        .join("; ");
    },
  };
}

function defaultPath(url: URL): string {
  const last = url.pathname.lastIndexOf("/");
  return last <= 0 ? "/" : url.pathname.slice(0, last);
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith("/") || requestPath[cookiePath.length] === "/";
}
