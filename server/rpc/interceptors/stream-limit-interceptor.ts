/**
 * Caps the streaming RPCs one caller holds open at once: an API key (WatchCredentials, reflection;
 * NEXUS_MAX_STREAMS_PER_KEY) or, for public streams without a key (grpc.health.v1 Watch), the client
 * address (IPv6: its /64; NEXUS_MAX_ANONYMOUS_STREAMS_PER_ADDRESS). One more is refused with
 * ResourceExhausted and reason TOO_MANY_STREAMS until one ends. Counted per process from the
 * stream's start to its end (normal, error or client gone). Runs inside auth.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { ErrorInfoSchema, ErrorReason } from "../../../gen/nexus/v1/errors_pb.ts";
import { perAddressKey } from "../../limits/address-key.ts";
import { kClientAddress, kPrincipal } from "../../request/context.ts";
import { observeStreamEnd } from "./stream-end.ts";

/** What the stream-limit interceptor needs. */
export interface StreamLimitDeps {
  /** Streams one API key may hold open. */
  maxPerKey: number;
  /** Streams callers without a key may hold open from one client address (trusted-proxy aware). */
  maxAnonymousPerAddress: number;
}

/** Creates the interceptor; its counts live in the returned closure (one per server). */
export function createStreamLimitInterceptor(deps: StreamLimitDeps): Interceptor {
  const open = new Map<string, number>();
  const release = (holder: string) => {
    const count = (open.get(holder) ?? 1) - 1;
    if (count <= 0) open.delete(holder);
    else open.set(holder, count);
  };
  // A unary call passes straight through, without an async layer of its own.
  const limitStream = async (next: Parameters<Interceptor>[0], req: Parameters<ReturnType<Interceptor>>[0]) => {
    const principal = req.contextValues.get(kPrincipal);
    // Keys and addresses are counted apart: the prefixes keep a key id from ever meeting an address.
    const holder = principal !== undefined ? `key:${principal.keyId}` : `address:${perAddressKey(req.contextValues.get(kClientAddress))}`;
    const max = principal !== undefined ? deps.maxPerKey : deps.maxAnonymousPerAddress;
    const count = open.get(holder) ?? 0;
    if (count >= max) throw tooManyStreams(principal !== undefined ? `this API key` : `this client address without an API key`, max);
    open.set(holder, count + 1);
    let res;
    try {
      res = await next(req);
    } catch (err) {
      release(holder);
      throw err;
    }
    if (!res.stream) {
      release(holder);
      return res;
    }
    return { ...res, message: observeStreamEnd(res.message, () => release(holder)) };
  };
  return (next) => (req) => {
    const isStreaming = req.method.methodKind === "server_streaming" || req.method.methodKind === "bidi_streaming";
    return isStreaming ? limitStream(next, req) : next(req);
  };
}

function tooManyStreams(holder: string, max: number): ConnectError {
  const info = create(ErrorInfoSchema, { reason: ErrorReason.TOO_MANY_STREAMS });
  return new ConnectError(`too many open streams for ${holder} (at most ${max})`, Code.ResourceExhausted, undefined, [
    { desc: ErrorInfoSchema, value: info },
  ]);
}
