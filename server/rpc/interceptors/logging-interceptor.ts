/**
 * Outermost interceptor: assigns the request id (from a well-formed `x-request-id` or a new one),
 * echoes it in the response header, and logs one line per finished RPC with its code and duration.
 * Never logs request or response messages: they can carry credentials.
 */
import { randomUUID } from "node:crypto";
import { ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "../../logging/logger.ts";
import { kRequestId } from "../../request/context.ts";
import { codeLabel } from "./metrics-interceptor.ts";
import { observeStreamEnd } from "./stream-end.ts";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Creates the logging interceptor. */
export function createLoggingInterceptor(deps: { logger: Logger; now?: () => number }): Interceptor {
  const now = deps.now ?? (() => performance.now());
  return (next) => async (req) => {
    const given = req.header.get("x-request-id");
    const requestId = given !== null && REQUEST_ID.test(given) ? given : randomUUID();
    req.contextValues.set(kRequestId, requestId);
    const started = now();
    const log = (err: unknown) => {
      const code = codeLabel(err);
      const fields = {
        requestId,
        rpc: `${req.service.typeName}/${req.method.name}`,
        // Not "code": that key is redacted everywhere, since OAuth authorization codes travel under it.
        result: code,
        durationMs: Math.round((now() - started) * 100) / 100,
      };
      if (code === "ok" || code === "canceled") deps.logger.debug(fields, "rpc");
      else deps.logger.info(fields, "rpc");
    };
    let res;
    try {
      res = await next(req);
    } catch (err) {
      log(err);
      if (err instanceof ConnectError) err.metadata.set("x-request-id", requestId);
      throw err;
    }
    res.header.set("x-request-id", requestId);
    if (!res.stream) {
      log(undefined);
      return res;
    }
    return { ...res, message: observeStreamEnd(res.message, log) };
  };
}
