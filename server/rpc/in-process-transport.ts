/**
 * A Transport that calls the services' unary methods in this process through the interceptors,
 * with the message as it is: no serialisation, no Connect protocol, no client. REST enters Connect
 * once through it (server/rest/), where connect-es's `createRouterTransport` encoded each message,
 * ran it through a Connect client and the router's protocol handler, and decoded the answer again.
 * Unary only (REST has no streams). Same outcome as the router transport: the handler context gets
 * the request headers, signal and context values; an answer carries the response headers and
 * trailers; an error is a ConnectError whose metadata holds the headers set before it.
 */
import { create, type DescMessage, type DescMethod, type DescService, isMessage, type MessageInitShape } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type ContextValues,
  createContextValues,
  createHandlerContext,
  createMethodImplSpec,
  createServiceImplSpec,
  type Interceptor,
  type MethodImplSpec,
  type Transport,
  type UnaryResponse,
} from "@connectrpc/connect";
import { invokeUnaryImplementation } from "@connectrpc/connect/protocol";

/** Options of `createInProcessTransport`. */
export interface InProcessTransportOptions {
  /** Interceptors, outermost first (as the router takes them). */
  interceptors: Interceptor[];
  /** Aborts every call's signal at shutdown (the router's `shutdownSignal`). */
  shutdownSignal?: AbortSignal;
}

/** Creates the transport over the implementations `routes` registers. */
export function createInProcessTransport(routes: (router: ConnectRouter) => void, options: InProcessTransportOptions): Transport {
  const specs = new Map<DescMethod, MethodImplSpec>();
  const capture = {
    handlers: [],
    service(service: DescService, impl: object) {
      const spec = createServiceImplSpec(service, impl as never);
      for (const method of Object.values(spec.methods)) specs.set(method.method, method as MethodImplSpec);
      return capture;
    },
    rpc(method: DescMethod, impl: unknown) {
      specs.set(method, createMethodImplSpec(method as never, impl as never) as MethodImplSpec);
      return capture;
    },
  };
  routes(capture as unknown as ConnectRouter);

  return {
    async unary<I extends DescMessage, O extends DescMessage>(
      method: Parameters<Transport["unary"]>[0],
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: Parameters<Transport["unary"]>[3],
      input: MessageInitShape<I>,
      contextValues?: ContextValues,
    ): Promise<UnaryResponse<I, O>> {
      const spec = specs.get(method);
      if (spec === undefined || spec.kind !== "unary") {
        throw new ConnectError(`${method.parent.typeName}.${method.name} is not implemented`, Code.Unimplemented);
      }
      const context = createHandlerContext({
        service: method.parent,
        method: spec.method,
        protocolName: "in-process",
        requestMethod: "POST",
        timeoutMs,
        shutdownSignal: options.shutdownSignal,
        requestSignal: signal,
        requestHeader: header,
        url: `in-process:///${method.parent.typeName}/${method.name}`,
        contextValues: contextValues ?? createContextValues(),
      });
      const message = isMessage(input, method.input) ? input : create(method.input, input as MessageInitShape<DescMessage>);
      try {
        const output = await invokeUnaryImplementation(spec, context, message, options.interceptors);
        return {
          stream: false,
          service: method.parent,
          method,
          header: context.responseHeader,
          message: output,
          trailer: context.responseTrailer,
        } as unknown as UnaryResponse<I, O>;
      } catch (err) {
        const error = ConnectError.from(err);
        // Headers the call set before failing travel with the error, as in a Connect error answer.
        for (const headers of [context.responseHeader, context.responseTrailer]) {
          headers.forEach((value, name) => {
            if (!error.metadata.has(name)) error.metadata.set(name, value);
          });
        }
        context.abort(error);
        throw error;
      } finally {
        context.abort(SETTLED);
      }
    },
    stream() {
      return Promise.reject(new ConnectError("the in-process transport serves unary calls only", Code.Unimplemented));
    },
  };
}

/** The reason a finished call's signal ends with (one object: no DOMException per call). */
const SETTLED = new ConnectError("the call has ended", Code.Canceled);
