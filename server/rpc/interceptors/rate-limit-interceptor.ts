/**
 * Per-key rate limit: one token bucket per API key (NEXUS_RATE_LIMIT_PER_SECOND / _BURST, in
 * memory, per process). Over the limit the call fails with ResourceExhausted, a `retry-after`
 * header (whole seconds, RFC 9110 §10.2.3; REST and Connect unary put it on the HTTP response) and
 * a google.rpc.RetryInfo detail with the exact delay. Runs inside auth: public methods have no key
 * and are not limited here.
 */
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { Code, type ConnectError, type Interceptor } from "@connectrpc/connect";
import { ErrorReason } from "../../../gen/nexus/v1/errors_pb.ts";
import type { TokenBuckets } from "../../limits/token-buckets.ts";
import { kPrincipal } from "../../request/context.ts";
import { errorWithReason } from "../errors.ts";

/** Creates the rate-limit interceptor over per-key buckets. */
export function createRateLimitInterceptor(deps: { buckets: TokenBuckets }): Interceptor {
  // Not an async layer (nothing here waits): a refusal thrown at once reaches the caller as a
  // rejection all the same, since every interceptor outside this one awaits inside a try.
  return (next) => (req) => {
    const principal = req.contextValues.get(kPrincipal);
    if (principal !== undefined) {
      const waitMs = deps.buckets.take(principal.keyId);
      if (waitMs > 0) throw rateLimitedError(waitMs);
    }
    return next(req);
  };
}

/** The ResourceExhausted error of a refused request, telling when to retry. */
export function rateLimitedError(retryAfterMs: number): ConnectError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  const err = errorWithReason(`rate limit exceeded: retry in ${retryAfterMs} ms`, Code.ResourceExhausted, ErrorReason.RATE_LIMITED, {
    metadata: { "retry-after": String(seconds) },
  });
  // Added as an already-encoded detail: the constructor only takes details with a descriptor.
  err.details.push({ type: "google.rpc.RetryInfo", value: encodeRetryInfo(retryAfterMs) });
  return err;
}

/**
 * google.rpc.RetryInfo { google.protobuf.Duration retry_delay = 1; }, encoded by hand: the message
 * is two fields deep and not worth vendoring google/rpc protos for.
 * @see https://github.com/googleapis/googleapis/blob/master/google/rpc/error_details.proto
 */
export function encodeRetryInfo(delayMs: number): Uint8Array {
  const duration = new BinaryWriter()
    .tag(1, WireType.Varint)
    .int64(Math.floor(delayMs / 1000))
    .tag(2, WireType.Varint)
    .int32((delayMs % 1000) * 1_000_000)
    .finish();
  return new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(duration).finish();
}
