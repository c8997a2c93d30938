// The logging interceptor at its seam: a Health service on an in-memory router transport and a
// logger writing to an array. Checks the request id, the one line per RPC, and what it leaves out.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "../../../gen/grpc/health/v1/health_pb.ts";
import { createLogger } from "../../logging/logger.ts";
import { kRequestId } from "../../request/context.ts";
import { createLoggingInterceptor } from "./logging-interceptor.ts";

function setup() {
  let nowMs = 0;
  const seenIds: (string | undefined)[] = [];
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: "debug", destination: { write: (s: string) => lines.push(JSON.parse(s)) } });
  const transport = createRouterTransport(
    (router) =>
      router.service(Health, {
        check: (req, ctx) => {
          seenIds.push(ctx.values.get(kRequestId));
          nowMs += 12.5;
          if (req.service === "missing") throw new ConnectError("no such service", Code.NotFound);
          return { status: HealthCheckResponse_ServingStatus.SERVING };
        },
        watch: async function* () {},
      }),
    { router: { interceptors: [createLoggingInterceptor({ logger, now: () => nowMs })] } },
  );
  return { client: createClient(Health, transport), lines, seenIds };
}

test("a well-formed x-request-id is kept, put in context and echoed; the line is at debug for ok", async () => {
  const rig = setup();
  let echoed: string | null = null;
  await rig.client.check(
    { service: "secret-looking-input" },
    { headers: { "x-request-id": "req-1" }, onHeader: (h) => (echoed = h.get("x-request-id")) },
  );
  assert.equal(echoed, "req-1");
  assert.deepEqual(rig.seenIds, ["req-1"]);
  assert.equal(rig.lines.length, 1);
  const line = rig.lines[0] ?? {};
  assert.equal(line.level, 20, "debug");
  assert.equal(line.requestId, "req-1");
  assert.equal(line.rpc, "grpc.health.v1.Health/Check");
  assert.equal(line.result, "ok");
  assert.equal(line.durationMs, 12.5);
  assert.ok(!JSON.stringify(line).includes("secret-looking-input"), "messages are never logged");
});

test("a malformed x-request-id is replaced; a failure is logged at info and carries the id", async () => {
  const rig = setup();
  const err = await rig.client.check({ service: "missing" }, { headers: { "x-request-id": "bad id with spaces" } }).then(
    () => assert.fail("succeeded"),
    (e: unknown) => ConnectError.from(e),
  );
  const id = rig.seenIds[0];
  assert.ok(id !== undefined && id !== "bad id with spaces");
  assert.equal(err.metadata.get("x-request-id"), id);
  const line = rig.lines[0] ?? {};
  assert.equal(line.level, 30, "info");
  assert.equal(line.result, "not_found");
  assert.equal(line.requestId, id);
});
