/**
 * How the capture answers a browser: HTML pages and 303 redirects, each with the security headers
 * (CSP without script, no framing, nosniff, no caching, a referrer policy), and the way back to
 * the app that sent the user. It owns the headers; the markup comes from capture-page.ts and the
 * flow from key-capture.ts.
 */
import { buildReturnRedirect, type ConsentOutcome } from "../consent/return-redirect.ts";
import type { NodeResponse } from "../http/endpoints.ts";
import { renderMessagePage } from "./capture-page.ts";

const BASE_HEADERS: Readonly<Record<string, string>> = {
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "cache-control": "no-store",
};

/** How an HTML answer may be used by the browser. */
export interface HtmlOptions {
  /**
   * Where the page's form may submit to (CSP form-action); browsers apply it to the redirect that
   * follows the POST too, so the form page adds the return URL's origin. Default `'self'`.
   */
  formTargets?: readonly string[];
  /**
   * Default `no-referrer`. The form page needs `same-origin`: on a no-referrer page browsers send
   * `Origin: null` with the form POST, and the origin check could never pass.
   */
  referrerPolicy?: "no-referrer" | "same-origin";
}

/** Sends an HTML page with the security headers. */
export function sendHtml(res: NodeResponse, status: number, html: string, options: HtmlOptions = {}): void {
  const formTargets = options.formTargets ?? ["'self'"];
  res.writeHead(status, {
    ...BASE_HEADERS,
    "content-type": "text/html; charset=utf-8",
    "content-security-policy":
      `default-src 'none'; style-src 'unsafe-inline'; form-action ${formTargets.join(" ")}; ` + "frame-ancestors 'none'; base-uri 'none'",
    "referrer-policy": options.referrerPolicy ?? "no-referrer",
  });
  res.end(html);
}

/** Sends a 303 See Other (the browser follows it with GET), revealing no referrer to the target. */
export function sendRedirect(res: NodeResponse, location: string): void {
  res.writeHead(303, { ...BASE_HEADERS, location, "referrer-policy": "no-referrer" });
  res.end();
}

/**
 * Sends the browser back to `returnUrl` with the outcome (303), or, for a connection without one,
 * a page that says how it ended (begin always records a return URL; this only guards rows written
 * some other way).
 */
export function sendBack(res: NodeResponse, returnUrl: string | null, outcome: ConsentOutcome & { connectionId: string }): void {
  if (returnUrl !== null) {
    sendRedirect(res, buildReturnRedirect(returnUrl, outcome));
    return;
  }
  const view =
    outcome.status === "success"
      ? { title: "Connected", message: "You can close this page." }
      : { title: "The connection was not completed", message: `Reason: ${outcome.error}. You can close this page.` };
  sendHtml(res, outcome.status === "success" ? 200 : 409, renderMessagePage(view));
}
