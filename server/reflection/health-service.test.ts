import assert from "node:assert/strict";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, test } from "node:test";
import type { Client, ConnectRouter } from "@connectrpc/connect";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../gen/grpc/health/v1/health_pb.ts";
import type { HealthService } from "./health-service.ts";
import { createHealthService } from "./health-service.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("server/reflection/health-service.test.ts", () => {
  interface Fixture {
    health: HealthService;
    client: Client<typeof Health>;
    /** Resolves each time a server-side Watch stream has finished (its generator returned). */
    watchEnded: () => Promise<void>;
    close: () => Promise<void>;
  }

  let fixture: Fixture;

  beforeEach(async () => {
    const health = createHealthService({ services: ["nexus.v1.ConnectionService"] });
    const endings: Array<() => void> = [];
    const routes = (router: ConnectRouter) =>
      router.service(Health, {
        check: health.impl.check,
        // Wraps Watch to observe from the outside that the server stream really ends.
        async *watch(request, context) {
          try {
            yield* health.impl.watch(request, context);
          } finally {
            endings.shift()?.();
          }
        },
      });
    const server = http2.createServer(connectNodeAdapter({ routes }));
    const sessions = new Set<http2.ServerHttp2Session>();
    server.on("session", (session) => {
      sessions.add(session);
      session.once("close", () => sessions.delete(session));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` });
    fixture = {
      health,
      client: createClient(Health, transport),
      watchEnded: () => new Promise<void>((resolve) => endings.push(resolve)),
      close: async () => {
        for (const session of sessions) session.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  });

  afterEach(() => fixture.close());

  const opts = { timeout: 5_000 };

  test("Check reports known services and NotFound for unknown ones", opts, async () => {
    const { client, health } = fixture;
    assert.equal((await client.check({ service: "" })).status, Status.SERVING);
    assert.equal((await client.check({ service: "nexus.v1.ConnectionService" })).status, Status.SERVING);
    health.setStatus("nexus.v1.ConnectionService", "NOT_SERVING");
    assert.equal((await client.check({ service: "nexus.v1.ConnectionService" })).status, Status.NOT_SERVING);
    await assert.rejects(client.check({ service: "nexus.v1.Nope" }), (err: unknown) => {
      assert.ok(err instanceof ConnectError);
      assert.equal(err.code, Code.NotFound);
      return true;
    });
  });

  test("Watch sends the current status, then each change, and ends on cancel", opts, async () => {
    const { client, health } = fixture;
    const ended = fixture.watchEnded();
    const abort = new AbortController();
    const stream = client.watch({ service: "nexus.v1.ConnectionService" }, { signal: abort.signal });
    const received: Status[] = [];
    await assert.rejects(
      async () => {
        for await (const response of stream) {
          received.push(response.status);
          if (received.length === 1) health.setStatus("nexus.v1.ConnectionService", "NOT_SERVING");
          if (received.length === 2) {
            // Setting the same status again must not produce a duplicate message.
            health.setStatus("nexus.v1.ConnectionService", "NOT_SERVING");
            health.setStatus("nexus.v1.ConnectionService", "SERVING");
          }
          if (received.length === 3) abort.abort();
        }
      },
      (err: unknown) => ConnectError.from(err).code === Code.Canceled,
    );
    assert.deepEqual(received, [Status.SERVING, Status.NOT_SERVING, Status.SERVING]);
    await ended;
  });

  test("Watch of an unknown service says SERVICE_UNKNOWN and stays open", opts, async () => {
    const { client, health } = fixture;
    const abort = new AbortController();
    const received: Status[] = [];
    await assert.rejects(
      async () => {
        for await (const response of client.watch({ service: "later" }, { signal: abort.signal })) {
          received.push(response.status);
          if (received.length === 1) health.setStatus("later", "SERVING");
          else abort.abort();
        }
      },
      (err: unknown) => ConnectError.from(err).code === Code.Canceled,
    );
    assert.deepEqual(received, [Status.SERVICE_UNKNOWN, Status.SERVING]);
  });

  test("shutdown sends NOT_SERVING, ends Watch streams and freezes the table", opts, async () => {
    const { client, health } = fixture;
    const ended = fixture.watchEnded();
    const received: Status[] = [];
    for await (const response of client.watch({ service: "" })) {
      received.push(response.status);
      if (received.length === 1) health.shutdown();
    }
    assert.deepEqual(received, [Status.SERVING, Status.NOT_SERVING]);
    await ended;

    health.setStatus("", "SERVING");
    assert.equal((await client.check({ service: "" })).status, Status.NOT_SERVING);
    const late: Status[] = [];
    for await (const response of client.watch({ service: "nexus.v1.ConnectionService" })) {
      late.push(response.status);
    }
    assert.deepEqual(late, [Status.NOT_SERVING]);
  });
});
