/**
 * TokenService.GetToken (the hot path) over HTTP/2 without connect-node's per-request machinery
 * (its Node-to-universal request conversion, async iterables, router), on the same kind of
 * dedicated path as WatchCredentials (watch-h2.ts): the public port's very interceptor chain, built
 * once, and the TokenService implementation itself, so policy is not reimplemented; only the wire,
 * with connect-es's exported serialisers (watch-h2-wire.ts), so the bytes are connect-node's.
 *
 * It claims only what it fully understands: an HTTP/2 POST to the exact path, gRPC or gRPC-Web
 * (proto or JSON) with one well-formed uncompressed message, or Connect unary (application/proto or
 * application/json, no parameters) whose body parses; no request compression, a well-formed
 * timeout, no CORS origin, and the same wire checks as connect-node's adapter
 * (binary-input-guard.ts). The server negotiates no compression (app.ts), so `accept-encoding` and
 * `grpc-accept-encoding` change nothing in connect-node's answer and are ignored here too, as is
 * `connect-protocol-version` (the router does not require it). Anything else — including a body
 * that does not arrive in time — goes back, bytes read included, to connect-node.
 */
import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { create, isMessage, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextKey, type ServiceImpl, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import { createMethodSerializationLookup, mergeNonProtocolHeaders, validateReadWriteMaxBytes } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, errorToJsonBytes, trailerMux } from "@connectrpc/connect/protocol-connect";
import { TokenService } from "../../gen/nexus/v1/tokens_pb.ts";
import type { ReadSoFar } from "../http/listener-contract.ts";
import { kClientAddress } from "../request/context.ts";
import { withReason } from "./errors.ts";
import { readClaimedBody, singleEnvelope } from "./h2-body.ts";
import { checkedMessage } from "./message-checks.ts";
import { SETTLED } from "./universal-request.ts";
import type { DedicatedPathDeps } from "./watch-h2.ts";
import { CallValues, claimedCall, type WatchCall, WatchCallView } from "./watch-h2-call.ts";
import { copyHeaders, endStream, envelope, nodeHeaders, sendHeaders, unaryProtocolOf, type WatchProtocol } from "./watch-h2-wire.ts";

const method = TokenService.method.getToken;
type Method = typeof method;
const PATH = `/${TokenService.typeName}/${method.name}`;
const RPC = `${TokenService.typeName}/${method.name}`;

/** What the dedicated path needs. */
export interface UnaryH2Deps extends DedicatedPathDeps {
  impl: Pick<ServiceImpl<typeof TokenService>, "getToken">;
}

/** The dedicated path. */
export interface UnaryH2 {
  /** The listener's `claimHttp2Stream`. */
  claim(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    handOff: (read: ReadSoFar) => void,
    schedule: (task: () => void) => void,
  ): boolean;
  /** Calls served here so far, and streams claimed then handed back (tests, gauges). */
  counts(): { served: number; handedOff: number };
}

/** The call's handler context, for the innermost step of the interceptor chain. */
const kContext = createContextKey<WatchCall | undefined>(undefined, { description: "unary-h2 handler context" });

/** Creates the path. */
export function createUnaryH2(deps: UnaryH2Deps): UnaryH2 {
  const limits = validateReadWriteMaxBytes(deps.readMaxBytes, undefined, undefined);
  const serialization = createMethodSerializationLookup(method, undefined, deps.jsonOptions, limits);
  const maxTimeoutMs = Number.MAX_SAFE_INTEGER;
  let served = 0;
  let handedOff = 0;

  // connect-es's invokeUnaryImplementation, innermost step: the handler with the request as the interceptors left it.
  const invoke = async (req: UnaryRequest<Method["input"]>): Promise<UnaryResponse<Method["input"], Method["output"]>> => {
    const ctx = req.contextValues.get(kContext)!;
    const output = await deps.impl.getToken(req.message, new WatchCallView(ctx, req));
    return {
      stream: false,
      message: isMessage(output, method.output) ? output : create(method.output, output),
      method,
      service: TokenService,
      header: ctx.responseHeader,
      trailer: ctx.responseTrailer,
    };
  };
  const next = deps.interceptors.reduceRight<
    (req: UnaryRequest<Method["input"]>) => Promise<UnaryResponse<Method["input"], Method["output"]>>
  >((inner, interceptor) => interceptor(inner as never) as never, invoke);

  const serve = (
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    protocol: WatchProtocol,
    input: MessageShape<Method["input"]>,
    arrivedAt: number,
  ) => {
    served += 1;
    const values = new CallValues().set(kClientAddress, deps.clientAddress(stream, headers));
    const ctx = claimedCall(
      stream,
      headers,
      { service: TokenService, method, protocol, arrivedAt, shutdownSignal: deps.shutdownSignal },
      values,
    );
    values.set(kContext, ctx);
    const req: UnaryRequest<Method["input"]> = {
      stream: false,
      message: input,
      method,
      requestMethod: "POST",
      url: ctx.url,
      signal: ctx.signal,
      header: ctx.requestHeader,
      service: TokenService,
      contextValues: values,
    };
    const isBinary = protocol.codec === "proto";
    next(req)
      .then((res) => {
        copyHeaders(res.header, ctx.responseHeader);
        copyHeaders(res.trailer, ctx.responseTrailer);
        return serialization.getO(isBinary).serialize(res.message);
      })
      .then(
        (bytes) => answer(stream, protocol, ctx, bytes, undefined),
        (err: unknown) => answer(stream, protocol, ctx, undefined, err),
      );
  };

  /** Writes the answer as connect-es's handler for the protocol would (its end: the context aborted). */
  const answer = (stream: ServerHttp2Stream, protocol: WatchProtocol, ctx: WatchCall, bytes: Uint8Array | undefined, err: unknown) => {
    try {
      ctx.abort(err ?? SETTLED);
      if (protocol.protocol === "connect") {
        connectUnary(stream, ctx, bytes, err);
        return;
      }
      // A bare error gets a reason, as the adapter's withBareErrorReasons adds it to gRPC trailers.
      const error = err instanceof ConnectError && err.details.length === 0 ? withReason(err) : err;
      if (bytes !== undefined && sendHeaders(stream, protocol, ctx.responseHeader)) stream.write(envelope(0, bytes));
      endStream(stream, protocol, ctx.responseHeader, ctx.responseTrailer, error, deps.jsonOptions);
    } catch (fault) {
      deps.logger.error({ err: fault, rpc: RPC }, "rpc handler failed");
      stream.destroy();
    }
  };

  /** connect-es's Connect unary answer: trailers as `trailer-` headers, errors as JSON with their HTTP status. */
  const connectUnary = (stream: ServerHttp2Stream, ctx: WatchCall, bytes: Uint8Array | undefined, err: unknown) => {
    if (stream.destroyed || stream.closed) return;
    let status = 200;
    let body = bytes;
    if (body === undefined) {
      const error = withReason(
        err instanceof ConnectError ? err : new ConnectError("internal error", Code.Internal, undefined, undefined, err),
      );
      status = codeToHttpStatus(error.code);
      ctx.responseHeader.set("content-type", "application/json");
      if (!error.isWireError) mergeNonProtocolHeaders(ctx.responseHeader, error.metadata);
      body = errorToJsonBytes(error, deps.jsonOptions);
    }
    const header = trailerMux(ctx.responseHeader, ctx.responseTrailer);
    header.set("content-length", String(body.byteLength));
    stream.respond(nodeHeaders(header, { ":status": status }));
    stream.end(body);
  };

  /** The request message of a whole body, or undefined when connect-node should answer it. */
  const parse = (protocol: WatchProtocol, body: Buffer): MessageShape<Method["input"]> | undefined => {
    // Connect unary: the body is the message; gRPC and gRPC-Web: exactly one envelope.
    const payload = protocol.protocol === "connect" ? body : singleEnvelope(body);
    if (payload === undefined || payload.length > deps.readMaxBytes) return undefined;
    // The wire checks of connect-node's adapter (binary-input-guard.ts), which hand failures back so
    // their errors are its; the message parsed once, as connect-es's serialization would parse it.
    return checkedMessage(method.input, payload, protocol.codec);
  };

  return {
    claim(stream, headers, handOff, schedule) {
      const protocol = unaryProtocolOf(headers, PATH, maxTimeoutMs);
      if (protocol === undefined) return false;
      const arrivedAt = performance.now();
      const giveBack = (read: ReadSoFar) => {
        handedOff += 1;
        handOff(read);
      };
      const maxBytes = deps.readMaxBytes + (protocol.protocol === "connect" ? 0 : 5);
      readClaimedBody(stream, maxBytes, giveBack, (body) => {
        const input = parse(protocol, body);
        if (input === undefined) return false;
        // When connect-node's handler would start: in turn during a burst of accepts, as the listener does.
        schedule(() => serve(stream, headers, protocol, input, arrivedAt));
        return true;
      });
      return true;
    },
    counts: () => ({ served, handedOff }),
  };
}
