// The error interceptor at its seam: a Health service that throws what the test asks for, on an
// in-memory router transport, with a logger whose lines the test reads.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "../../../gen/grpc/health/v1/health_pb.ts";
import { ErrorInfoSchema, ErrorReason } from "../../../gen/nexus/v1/errors_pb.ts";
import { NotFoundError } from "../../domain/errors.ts";
import { createLogger } from "../../logging/logger.ts";
import { createErrorInterceptor } from "./error-interceptor.ts";

function setup(fail: (service: string) => unknown) {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: "debug", destination: { write: (s: string) => lines.push(JSON.parse(s)) } });
  const transport = createRouterTransport(
    (router) =>
      router.service(Health, {
        check: (req) => {
          throw fail(req.service);
        },
        watch: async function* (req) {
          yield { status: HealthCheckResponse_ServingStatus.SERVING };
          throw fail(req.service);
        },
      }),
    { router: { interceptors: [createErrorInterceptor({ logger })] } },
  );
  return { client: createClient(Health, transport), lines };
}

async function refusal(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (err) {
    return ConnectError.from(err);
  }
  assert.fail("the call succeeded");
}

test("a domain error becomes its code and ErrorInfo reason, and is not logged as a fault", async () => {
  const rig = setup(() => new NotFoundError("connection", "c1"));
  const err = await refusal(rig.client.check({}));
  assert.equal(err.code, Code.NotFound);
  assert.equal(err.findDetails(ErrorInfoSchema)[0]?.reason, ErrorReason.CONNECTION_NOT_FOUND);
  assert.equal(rig.lines.length, 0);
});

test("an unexpected error is Internal with reason INTERNAL, its cause logged once and not sent", async () => {
  const rig = setup(() => new Error("db password is hunter2"));
  const err = await refusal(rig.client.check({}));
  assert.equal(err.code, Code.Internal);
  assert.equal(err.findDetails(ErrorInfoSchema)[0]?.reason, ErrorReason.INTERNAL);
  assert.ok(!err.rawMessage.includes("hunter2"), "the cause stays on the server");
  assert.equal(rig.lines.length, 1);
  assert.equal(rig.lines[0]?.rpc, "Check");
  assert.equal((rig.lines[0]?.err as { message?: string } | undefined)?.message, "db password is hunter2");
});

test("a ConnectError without ErrorInfo gets the reason its code implies", async () => {
  const rig = setup(() => new ConnectError("bad", Code.InvalidArgument));
  const err = await refusal(rig.client.check({}));
  assert.equal(err.code, Code.InvalidArgument);
  assert.equal(err.findDetails(ErrorInfoSchema).length, 1);
});

test("an error thrown mid-stream is mapped the same way", async () => {
  const rig = setup(() => new NotFoundError("provider", "p1"));
  const err = await refusal(
    (async () => {
      for await (const _ of rig.client.watch({})) {
        // the first message arrives, then the stream fails
      }
    })(),
  );
  assert.equal(err.code, Code.NotFound);
  assert.equal(err.findDetails(ErrorInfoSchema)[0]?.reason, ErrorReason.PROVIDER_NOT_FOUND);
});
