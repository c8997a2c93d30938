/**
 * The handler context of a WatchCredentials call on the dedicated HTTP/2 path (watch-h2.ts): what
 * connect-es's `createHandlerContext` gives a handler, built for a call that may last hours, in one
 * object without per-call closures. Its signal aborts as connect-es's does: at the client's
 * deadline (DeadlineExceeded "the operation timed out"), when the server shuts down (the shutdown
 * signal's reason), when the HTTP/2 stream closes (the reset's error, as connect-node maps reset
 * codes, or a settled call), or when the call ends (`abort`).
 */
import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextKey, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import { h2ResetError, SETTLED, webHeaders } from "./universal-request.ts";
import type { WatchProtocol } from "./watch-h2-wire.ts";

/** What a call is made of. */
export interface WatchCallInit {
  stream: ServerHttp2Stream;
  service: DescService;
  method: DescMethod;
  protocolName: string;
  url: string;
  timeoutMs: number | undefined;
  shutdownSignal: AbortSignal;
  requestHeader: Headers;
  responseType: string;
  /** Whether the protocol ends with a gRPC status (its trailer starts as grpc-status 0). */
  isGrpc: boolean;
  values: ContextValues;
}

/**
 * The context of a call a dedicated path claimed (watch-h2.ts, unary-h2.ts), as connect-node would
 * build it from the stream's headers; the client's deadline runs from the request's arrival
 * (`arrivedAt`, performance.now()), not from the end of its body.
 */
export function claimedCall(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  call: { service: DescService; method: DescMethod; protocol: WatchProtocol; arrivedAt: number; shutdownSignal: AbortSignal },
  values: ContextValues,
): WatchCall {
  const { protocol } = call;
  return new WatchCall({
    stream,
    service: call.service,
    method: call.method,
    protocolName: protocol.protocol,
    url: `http://${headers[":authority"] ?? headers.host ?? ""}${headers[":path"]}`,
    timeoutMs: protocol.timeoutMs === undefined ? undefined : protocol.timeoutMs - (performance.now() - call.arrivedAt),
    shutdownSignal: call.shutdownSignal,
    requestHeader: webHeaders(headers),
    responseType: protocol.responseType,
    isGrpc: protocol.protocol !== "connect",
    values,
  });
}

const kCall = Symbol("watch-h2 call");

/** A call's context (HandlerContext, plus `abort` as connect-es's handler controller has). */
export class WatchCall implements HandlerContext {
  readonly method: DescMethod;
  readonly service: DescService;
  readonly protocolName: string;
  readonly requestMethod = "POST";
  readonly url: string;
  readonly requestHeader: Headers;
  readonly responseHeader: Headers;
  readonly responseTrailer: Headers;
  readonly values: ContextValues;
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private readonly shutdownSignal: AbortSignal;
  /** On the monotonic clock (`performance.now()`): a deadline is elapsed time, not domain time. */
  private readonly deadlineAtMs: number | undefined;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(init: WatchCallInit) {
    this.method = init.method;
    this.service = init.service;
    this.protocolName = init.protocolName;
    this.url = init.url;
    this.requestHeader = init.requestHeader;
    this.responseHeader = new Headers({ "content-type": init.responseType });
    this.responseTrailer = init.isGrpc ? new Headers({ "grpc-status": "0" }) : new Headers();
    this.values = init.values;
    this.signal = this.controller.signal;
    this.shutdownSignal = init.shutdownSignal;
    this.deadlineAtMs = init.timeoutMs === undefined ? undefined : performance.now() + init.timeoutMs;
    (init.stream as unknown as Record<symbol, WatchCall>)[kCall] = this;
    // "close" comes once: `on` spares the once-wrapper a stream would keep for hours.
    init.stream.on("close", onStreamClose);
    if (init.timeoutMs !== undefined && init.timeoutMs > 0) this.timer = setTimeout(onDeadline, init.timeoutMs, this);
    this.shutdownSignal.addEventListener("abort", this);
    if (init.timeoutMs !== undefined && init.timeoutMs <= 0) onDeadline(this);
    else if (this.shutdownSignal.aborted) this.handleEvent();
  }

  timeoutMs(): number | undefined {
    return this.deadlineAtMs === undefined ? undefined : this.deadlineAtMs - performance.now();
  }

  /** Ends the call's signal with `reason` (first reason wins); stops the deadline and shutdown watch. */
  abort(reason: unknown): void {
    clearTimeout(this.timer);
    this.shutdownSignal.removeEventListener("abort", this);
    if (!this.signal.aborted) this.controller.abort(reason);
  }

  /** The shutdown signal aborted. */
  handleEvent(): void {
    this.abort(this.shutdownSignal.reason);
  }
}

/**
 * The context the handler gets: the call's, with the service, headers, signal and values of the
 * request as the interceptors passed it on (connect-es's mergeRequest), without copying the rest.
 */
export class WatchCallView implements HandlerContext {
  readonly service: DescService;
  readonly requestHeader: Headers;
  readonly signal: AbortSignal;
  readonly values: ContextValues;
  private readonly call: WatchCall;
  constructor(call: WatchCall, req: { service: DescService; header: Headers; signal: AbortSignal; contextValues: ContextValues }) {
    this.call = call;
    this.service = req.service;
    this.requestHeader = req.header;
    this.signal = req.signal;
    this.values = req.contextValues;
  }
  get method(): DescMethod {
    return this.call.method;
  }
  get protocolName(): string {
    return this.call.protocolName;
  }
  get requestMethod(): string {
    return this.call.requestMethod;
  }
  get url(): string {
    return this.call.url;
  }
  get responseHeader(): Headers {
    return this.call.responseHeader;
  }
  get responseTrailer(): Headers {
    return this.call.responseTrailer;
  }
  timeoutMs(): number | undefined {
    return this.call.timeoutMs();
  }
}

/** A call's context values (connect-es's createContextValues, with shared methods, not three closures per call). */
export class CallValues implements ContextValues {
  get<T>(key: ContextKey<T>): T {
    return key.id in this ? ((this as unknown as Record<symbol, T>)[key.id] as T) : key.defaultValue;
  }
  set<T>(key: ContextKey<T>, value: T): this {
    (this as unknown as Record<symbol, T>)[key.id] = value;
    return this;
  }
  delete(key: ContextKey<unknown>): this {
    delete (this as unknown as Record<symbol, unknown>)[key.id];
    return this;
  }
}

function onDeadline(call: WatchCall): void {
  call.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
}

function onStreamClose(this: ServerHttp2Stream): void {
  const call = (this as unknown as Record<symbol, WatchCall | undefined>)[kCall];
  call?.abort(h2ResetError(this.rstCode) ?? SETTLED);
}
