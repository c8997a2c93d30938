/**
 * Caps the streaming RPCs (WatchCredentials, reflection) one API key holds open at once
 * (NEXUS_MAX_STREAMS_PER_KEY): one more is refused with ResourceExhausted until one ends. Counted
 * per process from the stream's start to its end (normal, error or client gone). Runs inside auth.
 */
import { Code, type Interceptor } from "@connectrpc/connect";
import { ErrorReason } from "../../../gen/nexus/v1/errors_pb.ts";
import { kPrincipal } from "../context.ts";
import { errorWithReason } from "../errors.ts";
import { observeStreamEnd } from "./stream-end.ts";

/** Creates the interceptor. */
export function createStreamLimitInterceptor(deps: { maxPerKey: number }): Interceptor {
  const open = new Map<string, number>();
  const release = (keyId: string) => {
    const count = (open.get(keyId) ?? 1) - 1;
    if (count <= 0) open.delete(keyId);
    else open.set(keyId, count);
  };
  return (next) => async (req) => {
    const principal = req.contextValues.get(kPrincipal);
    const isStreaming = req.method.methodKind === "server_streaming" || req.method.methodKind === "bidi_streaming";
    if (principal === undefined || !isStreaming) return next(req);
    const keyId = principal.keyId;
    const count = open.get(keyId) ?? 0;
    if (count >= deps.maxPerKey) {
      const message = `too many open streams for this API key (at most ${deps.maxPerKey})`;
      throw errorWithReason(message, Code.ResourceExhausted, ErrorReason.STREAM_LIMIT);
    }
    open.set(keyId, count + 1);
    let res;
    try {
      res = await next(req);
    } catch (err) {
      release(keyId);
      throw err;
    }
    if (!res.stream) {
      release(keyId);
      return res;
    }
    return { ...res, message: observeStreamEnd(res.message, () => release(keyId)) };
  };
}
