/**
 * The return-URL allowlist (on by default): where a browser may be sent after consent. Checked
 * before a connection is created, so a refused URL leaves nothing behind. Patterns are origins:
 * "https://app.example.com" (exact), "http://localhost:*" (any port). Paths never matter. It lives in
 * config/ because the configuration checks its patterns at load; the consent flow applies it.
 */
import { InvalidArgumentError, ReturnUrlNotAllowedError } from "../domain/errors.ts";

/** Development default: the local machine on any port, nothing else. */
export const DEV_RETURN_URL_ORIGINS: readonly string[] = ["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"];

/** Checks return URLs against the allowlist. */
export interface ReturnUrlPolicy {
  /** Returns the parsed URL, or throws InvalidArgumentError / ReturnUrlNotAllowedError. */
  check(returnUrl: string): URL;
}

interface OriginPattern {
  protocol: string;
  hostname: string;
  /** undefined = any port */
  port: string | undefined;
}

/**
 * Creates the policy. Each pattern is `scheme://host[:port]` or `scheme://host:*`.
 * @throws Error naming a malformed pattern (configuration fault).
 */
export function createReturnUrlPolicy(allowedOrigins: readonly string[]): ReturnUrlPolicy {
  const patterns = allowedOrigins.map(parsePattern);
  return {
    check(returnUrl) {
      if (returnUrl === "") throw new InvalidArgumentError("return_url", "is required");
      if (returnUrl.length > 2048) throw new InvalidArgumentError("return_url", "must be at most 2048 characters");
      let url: URL;
      try {
        url = new URL(returnUrl);
      } catch {
        throw new InvalidArgumentError("return_url", "must be an absolute http(s) URL");
      }
      if (url.protocol !== "https:" && url.protocol !== "http:") {
        throw new InvalidArgumentError("return_url", "must be an absolute http(s) URL");
      }
      // Credentials in a URL are a classic open-redirect trick (https://trusted@evil) and never needed.
      if (url.username !== "" || url.password !== "") {
        throw new InvalidArgumentError("return_url", "must not contain user information");
      }
      const allowed = patterns.some(
        (p) => p.protocol === url.protocol && p.hostname === url.hostname && (p.port === undefined || p.port === effectivePort(url)),
      );
      if (!allowed) throw new ReturnUrlNotAllowedError(url.origin);
      return url;
    },
  };
}

function parsePattern(pattern: string): OriginPattern {
  const anyPort = pattern.endsWith(":*");
  const text = anyPort ? pattern.slice(0, -2) : pattern;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`return URL origin pattern "${pattern}" is not scheme://host[:port] or scheme://host:*`);
  }
  if ((url.protocol !== "https:" && url.protocol !== "http:") || (url.pathname !== "/" && url.pathname !== "") || url.search) {
    throw new Error(`return URL origin pattern "${pattern}" must be an http(s) origin without a path`);
  }
  return { protocol: url.protocol, hostname: url.hostname, port: anyPort ? undefined : effectivePort(url) };
}

function effectivePort(url: URL): string {
  return url.port !== "" ? url.port : url.protocol === "https:" ? "443" : "80";
}
