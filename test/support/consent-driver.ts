/**
 * Drives an authorization URL through oidc-provider's development login and consent pages with
 * plain fetch and a cookie jar, the way a browser would (redirects followed by hand), until the
 * browser would leave for `stopAt` (the app's return URL) or an answer is not a redirect.
 */
import { createCookieJar } from "./cookie-jar.ts";

/** Where the drive ended. */
export interface ConsentDriveResult {
  /** The URL the browser was last sent to (the return URL when `stopAt` matched). */
  url: string;
  /** Status of the last response fetched (0 when `stopAt` matched before fetching). */
  status: number;
  /** Body of the last response when it was not a redirect. */
  body: string;
  /** Every URL visited, in order (they carry codes and states: for assertions only). */
  visited: string[];
}

/** Options of `driveConsent`. */
export interface ConsentDriveOptions {
  /** Stop (without fetching) once a URL starts with this prefix. */
  stopAt: string;
  /** Login name typed into the login form. Default "alice". */
  login?: string;
  /** Press "Cancel" instead of signing in: the provider answers error=access_denied. */
  abort?: boolean;
  /** Called with each URL just before it is fetched; may return a replacement (tampering tests). */
  rewrite?: (url: string) => string;
}

/** Follows the consent from `authUrl`; at most 20 steps. */
export async function driveConsent(authUrl: string, options: ConsentDriveOptions): Promise<ConsentDriveResult> {
  const jar = createCookieJar();
  const visited: string[] = [];
  let url = authUrl;
  let init: RequestInit = { method: "GET" };
  for (let step = 0; step < 20; step++) {
    if (url.startsWith(options.stopAt)) return { url, status: 0, body: "", visited };
    url = options.rewrite?.(url) ?? url;
    visited.push(url);
    const headers = new Headers(init.headers);
    const cookie = jar.header(url);
    if (cookie !== "") headers.set("cookie", cookie);
    const response = await fetch(url, { ...init, headers, redirect: "manual" });
    jar.store(url, response);
    const location = response.headers.get("location");
    if (response.status >= 300 && response.status < 400 && location !== null) {
      await response.body?.cancel();
      url = new URL(location, url).href;
      init = { method: "GET" };
      continue;
    }
    const body = await response.text();
    const form = response.status === 200 ? /<form[^>]*action="([^"]+)"[^>]*>[\s\S]*?name="prompt" value="(\w+)"/.exec(body) : null;
    if (form === null) return { url, status: response.status, body, visited };
    const [, action = "", prompt = ""] = form;
    if (options.abort) {
      const abort = /href="([^"]*\/abort)"/.exec(body);
      if (abort === null) throw new Error("no abort link on the interaction page");
      url = new URL(decodeEntities(abort[1] ?? ""), url).href;
      init = { method: "GET" };
      continue;
    }
    const fields = new URLSearchParams({ prompt });
    if (prompt === "login") {
      fields.set("login", options.login ?? "alice");
      fields.set("password", "any");
    }
    url = new URL(decodeEntities(action), url).href;
    init = { method: "POST", body: fields, headers: { "content-type": "application/x-www-form-urlencoded" } };
  }
  throw new Error(`consent did not finish in 20 steps; last URL ${url.split("?")[0]}`);
}

function decodeEntities(text: string): string {
  return text
    .replace(/&#x([0-9a-f]+);/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_m, dec: string) => String.fromCharCode(Number(dec)))
    .replace(/&amp;/g, "&")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">");
}
