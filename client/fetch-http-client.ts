/**
 * A Connect "universal" HTTP client over a `fetch` function, so `createNexusClient({ fetch })`
 * can route Nexus calls through any fetch (a proxy-aware one, a test double). The request body
 * is buffered before sending: Nexus has no client-streaming RPC, and a streamed request body
 * would need `duplex: "half"`, which not every fetch supports. Responses stream as they arrive.
 */
import type { UniversalClientFn, UniversalClientRequest, UniversalClientResponse } from "@connectrpc/connect/protocol";

/**
 * Wraps `fetchFn` as a UniversalClientFn for the Connect and gRPC-Web protocols (gRPC needs HTTP/2
 * trailers, which fetch does not expose).
 *
 * @example
 * const transport = createTransport({ ...common, httpClient: createFetchHttpClient(fetch) });
 */
export function createFetchHttpClient(fetchFn: typeof globalThis.fetch): UniversalClientFn {
  return async (request: UniversalClientRequest): Promise<UniversalClientResponse> => {
    const body = request.body === undefined ? null : await readAll(request.body);
    const response = await fetchFn(
      new Request(request.url, { method: request.method, headers: request.header, signal: request.signal ?? null, body }),
    );
    return {
      status: response.status,
      header: response.headers,
      body: streamChunks(response.body),
      trailer: new Headers(),
    };
  };
}

// Typed `Uint8Array<ArrayBuffer>`: a Uint8Array over ArrayBufferLike is no BodyInit under the DOM lib.
async function readAll(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array<ArrayBuffer>> {
  const parts: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of chunks) {
    parts.push(chunk);
    length += chunk.byteLength;
  }
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

async function* streamChunks(body: ReadableStream<Uint8Array> | null): AsyncGenerator<Uint8Array> {
  if (!body) return;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    // Stopping early (the caller aborted a stream) must release the connection.
    await reader.cancel().catch(() => {});
  }
}
