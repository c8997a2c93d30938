/**
 * Security review finding 4: errors connect-es raises before any interceptor (a body over the size
 * limit, a bad connect-timeout-ms, an unsupported compression, a second message on a unary call)
 * carry an ErrorInfo reason too: in the Connect unary error body and end-stream message, and in
 * the gRPC and gRPC-Web grpc-status-details-bin trailer, like every other error.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerParse } from "@connectrpc/connect/protocol-grpc-web";
import { ErrorInfoSchema, ErrorReason } from "../gen/nexus/v1/errors_pb.ts";
import { createKeyProvider, seedConnection } from "./support/access-fixtures.ts";
import { createRawClient, type RawClient, type RawSend } from "./support/raw-client.ts";
import { startServer, TEST_TENANT, type TestServer } from "./support/start-server.ts";
import { envelope, envelopes, outcomeOf, rawProto } from "./support/wire-outcome.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/bare-error-reasons.test.ts", () => {
  let server: TestServer;
  let client: RawClient;
  let connectionId: string;

  before(async () => {
    server = await startServer({ env: { NEXUS_MAX_BODY_BYTES: "2048" } });
    await createKeyProvider(server);
    connectionId = await seedConnection(server, TEST_TENANT, "bare-error-secret");
    client = createRawClient(server.baseUrl);
  });
  after(async () => {
    client?.close();
    await server?.close();
  });

  const PATH = "/nexus.v1.ConnectionService/CheckConnection";

  function connect(headers: Record<string, string>, body: string | Buffer): RawSend {
    return {
      transport: "h2",
      method: "POST",
      path: PATH,
      headers: { ...server.auth(), "content-type": "application/json", ...headers },
      body: Buffer.from(body),
    };
  }

  function grpc(headers: Record<string, string>, body: Buffer): RawSend {
    return {
      transport: "h2",
      method: "POST",
      path: PATH,
      headers: { ...server.auth(), "content-type": "application/grpc", te: "trailers", ...headers },
      body,
    };
  }

  test("Connect unary: errors raised before the interceptors carry a reason", async () => {
    const json = JSON.stringify({ connection_id: connectionId });
    const cases: [string, RawSend, string, string][] = [
      [
        "body over NEXUS_MAX_BODY_BYTES",
        connect({}, JSON.stringify({ connection_id: "c".repeat(4000) })),
        "resource_exhausted",
        "TOO_LARGE",
      ],
      ["connect-timeout-ms: abc", connect({ "connect-timeout-ms": "abc" }, json), "invalid_argument", "MALFORMED_REQUEST"],
      ["connect-timeout-ms: -5", connect({ "connect-timeout-ms": "-5" }, json), "invalid_argument", "MALFORMED_REQUEST"],
      ["content-encoding: gzip", connect({ "content-encoding": "gzip" }, json), "unimplemented", "NOT_IMPLEMENTED"],
      ["content-encoding: br", connect({ "content-encoding": "br" }, json), "unimplemented", "NOT_IMPLEMENTED"],
      [
        "GET with compression=gzip",
        {
          transport: "h2",
          method: "GET",
          path: `${PATH}?connect=v1&encoding=json&compression=gzip&message=${encodeURIComponent(json)}`,
          headers: server.auth(),
          body: undefined,
        },
        "unimplemented",
        "NOT_IMPLEMENTED",
      ],
    ];
    for (const [label, send, code, reason] of cases) {
      const outcome = outcomeOf(await client.send(send, 60_000));
      assert.deepEqual([outcome.code, outcome.reason], [code, reason], `${label}: ${JSON.stringify(outcome)}`);
    }
  });

  test("gRPC: errors raised before the interceptors carry grpc-status-details-bin with a reason", async () => {
    const message = rawProto([[1, connectionId]]);
    const cases: [string, RawSend, string, string][] = [
      ["message over NEXUS_MAX_BODY_BYTES", grpc({}, envelope(rawProto([[1, "c".repeat(4000)]]))), "resource_exhausted", "TOO_LARGE"],
      ["grpc-encoding: snappy", grpc({ "grpc-encoding": "snappy" }, envelope(message)), "unimplemented", "NOT_IMPLEMENTED"],
      [
        "two messages on a unary call",
        grpc({}, Buffer.concat([envelope(message), envelope(message)])),
        "unimplemented",
        "MALFORMED_REQUEST",
      ],
      ["grpc-timeout: abc", grpc({ "grpc-timeout": "abc" }, envelope(message)), "invalid_argument", "MALFORMED_REQUEST"],
    ];
    for (const [label, send, code, reason] of cases) {
      const res = await client.send(send, 60_000);
      assert.ok(
        res.trailers["grpc-status-details-bin"] ?? res.headers["grpc-status-details-bin"],
        `${label}: grpc-status-details-bin is sent`,
      );
      const outcome = outcomeOf(res);
      assert.deepEqual([outcome.code, outcome.reason], [code, reason], `${label}: ${JSON.stringify(outcome)}`);
    }
  });

  test("Connect streaming: the end-stream error of a request connect-es refuses carries the same reasons", async () => {
    const path = "/nexus.v1.TokenService/WatchCredentials";
    const body = (id: string) => envelope(Buffer.from(JSON.stringify({ connection_id: id })));
    const send = (headers: Record<string, string>, b: Buffer): RawSend => ({
      transport: "h2",
      method: "POST",
      path,
      headers: { ...server.auth(), "content-type": "application/connect+json", ...headers },
      body: b,
    });
    const cases: [string, RawSend, string, string][] = [
      ["message over NEXUS_MAX_BODY_BYTES", send({}, body("c".repeat(4000))), "resource_exhausted", "TOO_LARGE"],
      ["connect-timeout-ms: abc", send({ "connect-timeout-ms": "abc" }, body(connectionId)), "invalid_argument", "MALFORMED_REQUEST"],
      [
        "connect-content-encoding: snappy",
        send({ "connect-content-encoding": "snappy" }, body(connectionId)),
        "unimplemented",
        "NOT_IMPLEMENTED",
      ],
      // The same framing fault as on a unary gRPC call, the same reason.
      [
        "two messages on a server-streaming call",
        send({}, Buffer.concat([body(connectionId), body(connectionId)])),
        "unimplemented",
        "MALFORMED_REQUEST",
      ],
      ["no message on a server-streaming call", send({}, Buffer.alloc(0)), "unimplemented", "MALFORMED_REQUEST"],
    ];
    for (const [label, request, code, reason] of cases) {
      const outcome = outcomeOf(await client.send(request, 60_000));
      assert.deepEqual([outcome.code, outcome.reason], [code, reason], `${label}: ${JSON.stringify(outcome)}`);
    }
  });

  test("gRPC-Web: the trailer of a request refused before the interceptors carries grpc-status-details-bin", async () => {
    const message = rawProto([[1, connectionId]]);
    const send = (headers: Record<string, string>, body: Buffer): RawSend => ({
      transport: "h1",
      method: "POST",
      path: PATH,
      headers: { ...server.auth(), "content-type": "application/grpc-web+proto", ...headers },
      body,
    });
    const cases: [string, RawSend, ErrorReason][] = [
      ["message over NEXUS_MAX_BODY_BYTES", send({}, envelope(rawProto([[1, "c".repeat(4000)]]))), ErrorReason.TOO_LARGE],
      ["grpc-encoding: snappy", send({ "grpc-encoding": "snappy" }, envelope(message)), ErrorReason.NOT_IMPLEMENTED],
      ["two messages on a unary call", send({}, Buffer.concat([envelope(message), envelope(message)])), ErrorReason.MALFORMED_REQUEST],
    ];
    for (const [label, request, reason] of cases) {
      const res = await client.send(request, 60_000);
      const block = envelopes(res.body).find((e) => e.flags === trailerFlag);
      assert.ok(block, `${label}: a trailer block`);
      const trailer = trailerParse(block.data);
      assert.ok(trailer.has("grpc-status-details-bin"), `${label}: grpc-status-details-bin is sent`);
      const err = findTrailerError(trailer);
      assert.equal(err?.findDetails(ErrorInfoSchema)[0]?.reason, reason, `${label}: ${err?.message}`);
    }
  });
});
