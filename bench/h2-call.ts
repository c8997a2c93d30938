/**
 * One raw HTTP/2 cleartext request with everything a check needs: status, headers, trailers and the
 * body bytes. The benchmarks use it to prove that what h2load will send succeeds (h2load counts a
 * gRPC error as a 2xx, since grpc-status travels in a trailer).
 */
import http2 from "node:http2";

/** A complete HTTP/2 response. */
export interface H2Response {
  status: number;
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  body: Buffer;
}

/** Sends one POST over a fresh h2c session and collects the whole response. */
export async function h2Call(baseUrl: string, path: string, headers: Record<string, string>, body: Uint8Array): Promise<H2Response> {
  const session = http2.connect(baseUrl);
  try {
    return await new Promise<H2Response>((resolve, reject) => {
      session.once("error", reject);
      const stream = session.request({ ":method": "POST", ":path": path, ...headers });
      let status = 0;
      let responseHeaders: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      stream.on("response", (h) => {
        status = Number(h[":status"]);
        responseHeaders = h;
      });
      stream.on("trailers", (t) => {
        trailers = t;
      });
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.once("end", () => resolve({ status, headers: responseHeaders, trailers, body: Buffer.concat(chunks) }));
      stream.once("error", reject);
      stream.end(body);
    });
  } finally {
    session.close();
  }
}

/** A gRPC message frame: flag byte 0 (uncompressed), 4-byte big-endian length, the message. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}
