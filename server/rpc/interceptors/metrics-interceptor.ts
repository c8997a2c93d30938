/**
 * Counts RPCs and their duration by service, method and final code. Streams are recorded when they
 * end, and the open-stream gauge follows them.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { ServerMetrics } from "../../metrics/server-metrics.ts";
import { observeStreamEnd } from "./stream-end.ts";

/** Creates the metrics interceptor. `now` returns milliseconds (injectable for tests). */
export function createMetricsInterceptor(deps: { metrics: ServerMetrics; now?: () => number }): Interceptor {
  const now = deps.now ?? (() => performance.now());
  const { rpcRequests, rpcDuration, streamsOpen } = deps.metrics;
  return (next) => async (req) => {
    const labels = { service: req.service.typeName, method: req.method.name };
    const started = now();
    const record = (err: unknown) => {
      // One labels object for both (prom-client only reads it, or keeps the first of a series as is).
      const withCode = { service: labels.service, method: labels.method, code: codeLabel(err) };
      rpcRequests.inc(withCode);
      rpcDuration.observe(withCode, (now() - started) / 1000);
    };
    let res;
    try {
      res = await next(req);
    } catch (err) {
      record(err);
      throw err;
    }
    if (!res.stream) {
      record(undefined);
      return res;
    }
    streamsOpen.inc(labels);
    return {
      ...res,
      message: observeStreamEnd(res.message, (err) => {
        streamsOpen.dec(labels);
        record(err);
      }),
    };
  };
}

/** "ok" or the snake_case Connect code name, e.g. "not_found". */
export function codeLabel(err: unknown): string {
  if (err === undefined) return "ok";
  const code = ConnectError.from(err).code;
  return Code[code].replace(/[A-Z]/g, (c, i: number) => (i === 0 ? c.toLowerCase() : `_${c.toLowerCase()}`));
}
