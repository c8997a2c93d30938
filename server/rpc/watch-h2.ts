/**
 * WatchCredentials over HTTP/2 without connect-node's per-request machinery (issue 14 §3). A watch
 * stream lives for hours and, once its first messages are out, is held by the fan-out
 * (server/services/watch-fanout.ts), which writes to its HTTP/2 stream directly; through
 * connect-node each such stream also kept the compatibility request and response, the universal
 * request, connect-es's dozen serialisation and envelope generators and their closures. Here a
 * stream holds what the call needs: the ServerHttp2Stream, its handler context, and the chain of
 * the very interceptors every RPC runs (auth, rate and stream limits, audit, key validity, input
 * checks, error mapping, logging, metrics), built once and applied to each call; the handler is the
 * TokenService implementation itself. So policy is not reimplemented: only the wire is.
 *
 * It claims only what it fully understands: an HTTP/2 POST to the exact path with a gRPC, gRPC-Web
 * or Connect streaming content type without parameters, no request compression, a well-formed
 * timeout, no CORS origin, and a body that is exactly one well-formed, uncompressed message that
 * passes the same wire checks as connect-node's adapter (binary-input-guard.ts). Anything else —
 * including a body that does not arrive in time — is handed back, bytes read included, to the
 * listener's ordinary path, so odd inputs keep today's answers. HTTP/1.1 never comes here.
 */
import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import {
  create,
  isMessage,
  type JsonReadOptions,
  type JsonWriteOptions,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextKey,
  type Interceptor,
  type ServiceImpl,
  type StreamRequest,
  type StreamResponse,
} from "@connectrpc/connect";
import { createMethodSerializationLookup, type Serialization, validateReadWriteMaxBytes } from "@connectrpc/connect/protocol";
import { TokenService } from "../../gen/nexus/v1/tokens_pb.ts";
import type { ReadSoFar } from "../http/listener-contract.ts";
import type { Logger } from "../logging/logger.ts";
import { type FanoutHandover, kClientAddress, kRawStream } from "../request/context.ts";
import { readClaimedBody, singleEnvelope } from "./h2-body.ts";
import { checkedMessage } from "./message-checks.ts";
import { SETTLED } from "./universal-request.ts";
import { CallValues, claimedCall, type WatchCall, WatchCallView } from "./watch-h2-call.ts";
import { copyHeaders, endStream, envelope, sendHeaders, type WatchProtocol, watchProtocolOf } from "./watch-h2-wire.ts";

const method = TokenService.method.watchCredentials;
type Method = typeof method;

/** What a dedicated path needs (unary-h2.ts takes the same, with its own procedure). */
export interface DedicatedPathDeps {
  /** The public port's interceptors, outermost first (as the router gets them). */
  interceptors: readonly Interceptor[];
  readMaxBytes: number;
  jsonOptions: Partial<JsonReadOptions & JsonWriteOptions>;
  shutdownSignal: AbortSignal;
  /** The client address of a call, as the adapter's `contextValues` sets it (kClientAddress). */
  clientAddress: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => string;
  logger: Logger;
}

/** What the dedicated path needs. */
export interface WatchH2Deps extends DedicatedPathDeps {
  impl: Pick<ServiceImpl<typeof TokenService>, "watchCredentials">;
}

/** The dedicated path. */
export interface WatchH2 {
  /** The listener's `claimHttp2Stream`. */
  claim(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, handOff: (read: ReadSoFar) => void): boolean;
  /** Streams served here so far, and streams claimed then handed back (tests, gauges). */
  counts(): { served: number; handedOff: number };
}

/** The call's handler context, for the innermost step of the interceptor chain. */
const kContext = createContextKey<WatchCall | undefined>(undefined, { description: "watch-h2 handler context" });

/** Creates the path. */
export function createWatchH2(deps: WatchH2Deps): WatchH2 {
  const limits = validateReadWriteMaxBytes(deps.readMaxBytes, undefined, undefined);
  const serialization = createMethodSerializationLookup(method, undefined, deps.jsonOptions, limits);
  const maxTimeoutMs = Number.MAX_SAFE_INTEGER;
  let served = 0;
  let handedOff = 0;

  // connect-es's invoke step for a server-streaming method: one input message, then the handler.
  const invoke = async (req: StreamRequest<Method["input"]>): Promise<StreamResponse<Method["input"], Method["output"]>> => {
    const ctx = req.contextValues.get(kContext)!;
    const input = await ensureSingle(req.message);
    // connect-es's mergeRequest: the context as the interceptors left the request (key validity's signal).
    const output = deps.impl.watchCredentials(input, new WatchCallView(ctx, req));
    return {
      stream: true,
      message: output as AsyncIterable<never>,
      method,
      service: req.service,
      header: ctx.responseHeader,
      trailer: ctx.responseTrailer,
    };
  };
  // Built once (connect-es builds the same chain per call): the first interceptor is outermost.
  const next = deps.interceptors.reduceRight<
    (req: StreamRequest<Method["input"]>) => Promise<StreamResponse<Method["input"], Method["output"]>>
  >((inner, interceptor) => interceptor(inner as never) as never, invoke);

  /** Serves a claimed stream whose single request message parsed. */
  const serve = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, protocol: WatchProtocol, input: unknown, arrivedAt: number) => {
    served += 1;
    const values = new CallValues().set(kClientAddress, deps.clientAddress(stream, headers));
    const handover: FanoutHandover = { attach: undefined };
    values.set(kRawStream, { codec: protocol.codec, body: stream, handover });
    const ctx = claimedCall(
      stream,
      headers,
      { service: TokenService, method, protocol, arrivedAt, shutdownSignal: deps.shutdownSignal },
      values,
    );
    values.set(kContext, ctx);
    const req: StreamRequest<Method["input"]> = {
      stream: true,
      message: new SingleMessage(input as MessageShape<Method["input"]>),
      method,
      requestMethod: "POST",
      url: ctx.url,
      signal: ctx.signal,
      header: ctx.requestHeader,
      service: TokenService,
      contextValues: values,
    };
    const end = (err: unknown) => finish(stream, protocol, ctx, err);
    // A throw while starting the pump ends the call like a handler error (never an unhandled rejection).
    next(req)
      .then((res) => {
        copyHeaders(res.header, ctx.responseHeader);
        const output = serialization.getO(protocol.codec === "proto");
        new Pump(stream, protocol, ctx, handover, res.message[Symbol.asyncIterator](), res.trailer, output, end).pull();
      })
      .catch(end);
  };
  /** How the call ends: connect-es aborts the call's signal once its output ends (clearing the deadline timer). */
  const finish = (stream: ServerHttp2Stream, protocol: WatchProtocol, ctx: WatchCall, err: unknown) => {
    try {
      ctx.abort(err ?? SETTLED);
      endStream(stream, protocol, ctx.responseHeader, ctx.responseTrailer, err, deps.jsonOptions);
    } catch (fault) {
      deps.logger.error({ err: fault, rpc: "nexus.v1.TokenService/WatchCredentials" }, "rpc handler failed");
      stream.destroy();
    }
  };
  /** The one message of a whole body, or undefined when it is not exactly one good envelope. */
  const parse = (protocol: WatchProtocol, body: Buffer): unknown => {
    const payload = singleEnvelope(body);
    if (payload === undefined || payload.length > deps.readMaxBytes) return undefined;
    const input = method.input;
    // The wire checks of connect-node's adapter (binary-input-guard.ts), which hand failures back so
    // their errors are its; the message parsed once, as connect-es's serialization would parse it.
    return checkedMessage(input, payload, protocol.codec);
  };

  return {
    claim(stream, headers, handOff) {
      const protocol = watchProtocolOf(headers, maxTimeoutMs);
      if (protocol === undefined) return false;
      const arrivedAt = performance.now();
      const giveBack = (read: ReadSoFar) => {
        handedOff += 1;
        handOff(read);
      };
      readClaimedBody(stream, deps.readMaxBytes + 5, giveBack, (body) => {
        const input = parse(protocol, body);
        if (input === undefined) return false;
        // Nothing of this claim's scope (the body read) stays with the call.
        serve(stream, headers, protocol, input, arrivedAt);
        return true;
      });
      return true;
    },
    counts: () => ({ served, handedOff }),
  };
}

/** connect-es's check that a server-streaming call got exactly one message (same errors). */
async function ensureSingle<T>(messages: AsyncIterable<T>): Promise<T> {
  const iterator = messages[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done === true) throw new ConnectError("protocol error: missing input message for server-streaming method", Code.Unimplemented);
  const second = await iterator.next();
  if (second.done !== true)
    throw new ConnectError("protocol error: received extra input message for server-streaming method", Code.Unimplemented);
  return first.value;
}

/**
 * Writes a call's messages as the chain yields them, as a for-await loop would read them, then
 * hands the end to `end`; while the fan-out holds the stream nothing of it waits (no async frame).
 */
class Pump {
  private readonly stream: ServerHttp2Stream;
  private readonly protocol: WatchProtocol;
  private readonly call: WatchCall;
  private readonly handover: FanoutHandover;
  private readonly iterator: AsyncIterator<unknown>;
  private readonly trailer: Headers;
  private readonly output: Serialization<MessageShape<Method["output"]>>;
  private readonly end: (err: unknown) => void;
  constructor(
    stream: ServerHttp2Stream,
    protocol: WatchProtocol,
    call: WatchCall,
    handover: FanoutHandover,
    iterator: AsyncIterator<unknown>,
    trailer: Headers,
    output: Serialization<MessageShape<Method["output"]>>,
    end: (err: unknown) => void,
  ) {
    this.stream = stream;
    this.protocol = protocol;
    this.call = call;
    this.handover = handover;
    this.iterator = iterator;
    this.trailer = trailer;
    this.output = output;
    this.end = end;
  }

  pull(): void {
    let pending: Promise<IteratorResult<unknown>>;
    try {
      pending = this.iterator.next();
    } catch (err) {
      this.end(err);
      return;
    }
    pending.then(
      (result) => this.take(result),
      (err: unknown) => this.end(err),
    );
  }

  private take(result: IteratorResult<unknown>): void {
    if (result.done === true) {
      copyHeaders(this.trailer, this.call.responseTrailer);
      this.end(undefined);
      return;
    }
    try {
      const message = result.value as MessageInitShape<Method["output"]>;
      const bytes = this.output.serialize(isMessage(message, method.output) ? message : create(method.output, message));
      if (sendHeaders(this.stream, this.protocol, this.call.responseHeader)) this.stream.write(envelope(0, bytes));
    } catch (err) {
      // As a for-await loop whose body throws: the source is closed (what that throws is ignored), then the error ends the call.
      Promise.resolve(this.iterator.return?.()).then(
        () => this.end(err),
        () => this.end(err),
      );
      return;
    }
    const attach = this.handover.attach;
    if (attach === undefined) {
      this.pull();
      return;
    }
    // The fan-out writes from here on; the chain (interceptors, handler) rests at its yields until
    // the fan-out ends the stream, then the handler ends it through the chain as usual.
    this.handover.attach = undefined;
    attach().then(
      () => this.pull(),
      () => this.pull(),
    );
  }
}

/** The one request message, as the async iterable interceptors and `ensureSingle` read. */
class SingleMessage<T> implements AsyncIterable<T> {
  private message: T | undefined;
  constructor(message: T) {
    this.message = message;
  }
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this;
  }
  next(): Promise<IteratorResult<T>> {
    const message = this.message;
    this.message = undefined;
    return Promise.resolve(message === undefined ? { done: true, value: undefined } : { done: false, value: message });
  }
}
