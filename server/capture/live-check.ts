/**
 * The live check of freshly entered credentials: one GET to the provider's `testEndpoint` with the
 * strategy applied, before anything is stored. It owns the request and the reading of the answer;
 * it never logs, stores or returns the credentials, and never follows a redirect with them.
 */
import type { Strategy } from "../domain/strategy.ts";
import type { ProviderProfile } from "../providers/profile.ts";
import { fillUrlTemplate, MissingEndpointParamError, UrlTemplateError, urlParamValues } from "../providers/url-template.ts";

/** The verdict of a live check. */
export type LiveCheckResult =
  /** The provider answered 2xx. */
  | { outcome: "accepted"; httpStatus: number }
  /** The provider answered 401 or 403: the credentials are wrong. */
  | { outcome: "rejected"; httpStatus: number }
  /** No verdict: network failure, timeout, redirect, 5xx, 429, other 4xx. `reason` holds no secret. */
  | { outcome: "unverified"; reason: string; httpStatus?: number }
  /** No test endpoint, or a strategy (HMAC, SigV4) that needs more than a plain GET. */
  | { outcome: "skipped" };

/** Checks entered fields against the provider. */
export type LiveCheck = (input: {
  profile: ProviderProfile;
  fields: Readonly<Record<string, string>>;
  /** The connection's URL parameters, filling its `{name}` placeholders (with the profile's operator_params). */
  params: Readonly<Record<string, string>>;
}) => Promise<LiveCheckResult>;

/** Creates the live check; `fetch` is injected so tests use a local fake provider. */
export function createLiveCheck(deps: { fetch: (url: string, init: RequestInit) => Promise<Response>; timeoutMs: number }): LiveCheck {
  return async ({ profile, fields, params }) => {
    if (profile.testEndpoint === undefined || profile.testEndpoint === "") return { outcome: "skipped" };
    const strategy = profile.strategy;
    if (strategy.type === "hmac_payload" || strategy.type === "aws_sigv4") return { outcome: "skipped" };

    let filled: string;
    try {
      // The typed key goes to this URL: a connection may only pick a DNS label under the profile's
      // domain, the operator's values fix the rest (url-template.ts).
      filled = fillUrlTemplate(profile.testEndpoint, urlParamValues(profile, params));
    } catch (err) {
      if (err instanceof MissingEndpointParamError)
        return { outcome: "unverified", reason: `test endpoint parameter "${err.param}" is not set` };
      if (err instanceof UrlTemplateError) return { outcome: "unverified", reason: "test endpoint cannot be filled from these parameters" };
      throw err;
    }
    if (!URL.canParse(filled)) return { outcome: "unverified", reason: "test endpoint is not a valid URL" };
    const url = new URL(filled);
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      return { outcome: "unverified", reason: "test endpoint is not an http(s) URL" };
    }

    let headers: Headers;
    try {
      headers = applyStrategy(strategy, fields, url);
    } catch {
      // Headers refuses values with control characters; such a key cannot work anyway.
      return { outcome: "unverified", reason: "the credentials cannot be sent in a request header" };
    }

    let response: Response;
    try {
      // redirect "manual": a redirect is no verdict, and following it would hand the key to
      // whatever host the Location names.
      response = await deps.fetch(url.toString(), {
        method: "GET",
        headers,
        redirect: "manual",
        signal: AbortSignal.timeout(deps.timeoutMs),
      });
    } catch (err) {
      // Only the error's name: a message could quote the URL, and a query_param URL holds the key.
      return { outcome: "unverified", reason: `request failed (${err instanceof Error ? err.name : "error"})` };
    }
    await response.body?.cancel().catch(() => undefined);
    const httpStatus = response.status;
    if (httpStatus >= 200 && httpStatus < 300) return { outcome: "accepted", httpStatus };
    if (httpStatus === 401 || httpStatus === 403) return { outcome: "rejected", httpStatus };
    return { outcome: "unverified", reason: `provider answered HTTP ${httpStatus}`, httpStatus };
  };
}

function applyStrategy(
  strategy: Exclude<Strategy, { type: "hmac_payload" | "aws_sigv4" }>,
  fields: Readonly<Record<string, string>>,
  url: URL,
): Headers {
  const headers = new Headers({ accept: "application/json, */*;q=0.5", "user-agent": "nexus-key-capture" });
  switch (strategy.type) {
    case "oauth2":
      headers.set("authorization", `Bearer ${fields.access_token ?? ""}`);
      break;
    case "header":
      headers.set(strategy.headerName, `${strategy.valuePrefix}${fields[strategy.credentialField] ?? ""}`);
      break;
    case "query_param":
      url.searchParams.set(strategy.paramName, fields[strategy.credentialField] ?? "");
      break;
    case "basic_auth": {
      // RFC 7617 §2.1: user-id ":" password, UTF-8, base64.
      const pair = `${fields[strategy.usernameField] ?? ""}:${fields[strategy.passwordField] ?? ""}`;
      headers.set("authorization", `Basic ${Buffer.from(pair, "utf8").toString("base64")}`);
      break;
    }
  }
  return headers;
}
