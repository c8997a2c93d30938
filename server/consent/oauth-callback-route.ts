/**
 * GET /oauth/callback as a plain HTTP route in the adapter's fallback (browsers arrive here, not RPC
 * clients): hands the query to the consent flow and answers with a 303 to the return URL or the
 * error page. The URL carries the code and state, so it is never logged.
 */
import type { EndpointHandler } from "../http/endpoints.ts";
import type { Logger } from "../logging/logger.ts";
import type { CallbackResult } from "./consent-callback.ts";
import { CALLBACK_RESPONSE_HEADERS, CONSENT_PAGE_HEADERS, renderConsentPage } from "./consent-page.ts";

/** The callback path; the redirect_uri is `${publicUrl}${OAUTH_CALLBACK_PATH}`. */
export const OAUTH_CALLBACK_PATH = "/oauth/callback";

/** Creates the route; it resolves false for every other path. */
export function createOAuthCallbackRoute(deps: {
  handleCallback: (query: URLSearchParams) => Promise<CallbackResult>;
  logger: Logger;
}): EndpointHandler {
  return async (req, res) => {
    const url = req.url ?? "/";
    const queryStart = url.indexOf("?");
    const path = queryStart === -1 ? url : url.slice(0, queryStart);
    if (path !== OAUTH_CALLBACK_PATH) return false;
    if (req.method !== "GET") {
      res.writeHead(405, { ...CONSENT_PAGE_HEADERS, allow: "GET" });
      res.end(
        renderConsentPage({ title: "Method not allowed", message: "This address only accepts the browser's return from a provider." }),
      );
      return true;
    }
    let result: CallbackResult;
    try {
      result = await deps.handleCallback(new URLSearchParams(queryStart === -1 ? "" : url.slice(queryStart + 1)));
    } catch (err) {
      // The cause may be anything (store down); the browser gets a generic page and no details.
      deps.logger.error({ err }, "oauth callback failed");
      result = {
        page: {
          status: 500,
          title: "Something went wrong",
          message: "The connection could not be completed. Go back to the application and try again.",
        },
      };
    }
    if ("redirect" in result) {
      res.writeHead(303, { ...CALLBACK_RESPONSE_HEADERS, location: result.redirect });
      res.end();
    } else {
      res.writeHead(result.page.status, CONSENT_PAGE_HEADERS);
      res.end(renderConsentPage(result.page));
    }
    return true;
  };
}
