/**
 * Maps every error that escapes a handler (unary or streaming) to a ConnectError through
 * `toConnectError` (so every error carries an ErrorInfo reason), ends server streams with
 * DeadlineExceeded when the client's deadline passes, and logs Internal faults once with their
 * cause. Runs inside logging and metrics so they see final codes.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { ErrorReason } from "../../../gen/nexus/v1/errors_pb.ts";
import type { Logger } from "../../logging/logger.ts";
import { kRequestId } from "../../request/context.ts";
import { errorWithReason, toConnectError } from "../errors.ts";
import { failAtDeadline, mapStreamError } from "./stream-end.ts";

/** Creates the error-mapping interceptor. */
export function createErrorInterceptor(deps: { logger: Logger }): Interceptor {
  return (next) => async (req) => {
    const map = (err: unknown) => {
      // The client cancelled or went away (reset stream, closed socket): whatever broke after that,
      // e.g. reading the rest of a request stream (ERR_STREAM_PREMATURE_CLOSE), is no server
      // fault and nobody reads the answer. Logged at debug by the logging interceptor.
      if (isClientGone(req.signal))
        return errorWithReason("the client closed the call", Code.Canceled, ErrorReason.CANCELED, { cause: err });
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

/**
 * True once the call's signal was aborted by the client: not by its deadline (answered with
 * DeadlineExceeded) nor by the server's shutdown (Unavailable, see app.ts).
 */
function isClientGone(signal: AbortSignal): boolean {
  if (!signal.aborted) return false;
  const reason: unknown = signal.reason;
  return !(reason instanceof ConnectError && (reason.code === Code.DeadlineExceeded || reason.code === Code.Unavailable));
}
