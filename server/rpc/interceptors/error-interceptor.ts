/**
 * Maps every error that escapes a handler (unary or streaming) to a ConnectError through
 * `toConnectError` (so every error carries an ErrorInfo reason), ends server streams with
 * DeadlineExceeded when the client's deadline passes, and logs Internal faults once with their
 * cause. Runs inside logging and metrics so they see final codes.
 */
import type { Interceptor } from "@connectrpc/connect";
import type { Logger } from "../../logging/logger.ts";
import { toConnectError } from "../errors.ts";
import { kRequestId } from "../context.ts";
import { failAtDeadline, mapStreamError } from "./stream-end.ts";

/** Creates the error-mapping interceptor. */
export function createErrorInterceptor(deps: { logger: Logger }): Interceptor {
  return (next) => async (req) => {
    const map = (err: unknown) => {
      const { error, isFault } = toConnectError(err);
      if (isFault) {
        deps.logger.error(
          { err: error.cause ?? err, requestId: req.contextValues.get(kRequestId), rpc: req.method.name },
          "internal error",
        );
      }
      return error;
    };
    try {
      const res = await next(req);
      if (!res.stream) return res;
      return { ...res, message: mapStreamError(failAtDeadline(res.message, req.signal), map) };
    } catch (err) {
      throw map(err);
    }
  };
}
