// The input interceptor at its seam, inside the error interceptor as in the app: text with control
// characters is refused as InvalidArgument INVALID_FIELD naming the field, unary and streaming.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "../../../gen/grpc/health/v1/health_pb.ts";
import { ErrorInfoSchema, ErrorReason } from "../../../gen/nexus/v1/errors_pb.ts";
import { createLogger } from "../../logging/logger.ts";
import { createErrorInterceptor } from "./error-interceptor.ts";
import { createInputInterceptor } from "./input-interceptor.ts";

function setup() {
  let handled = 0;
  const logger = createLogger({ level: "silent" });
  const transport = createRouterTransport(
    (router) =>
      router.service(Health, {
        check: () => {
          handled += 1;
          return { status: HealthCheckResponse_ServingStatus.SERVING };
        },
        watch: async function* () {
          handled += 1;
          yield { status: HealthCheckResponse_ServingStatus.SERVING };
        },
      }),
    { router: { interceptors: [createErrorInterceptor({ logger }), createInputInterceptor()] } },
  );
  return { client: createClient(Health, transport), handled: () => handled };
}

test("clean text passes; a control character is InvalidArgument INVALID_FIELD naming the field", async () => {
  const rig = setup();
  await rig.client.check({ service: "nexus.v1.ConnectionService" });
  const err = await rig.client.check({ service: "bad\u0001name" }).then(
    () => assert.fail("accepted"),
    (e: unknown) => ConnectError.from(e),
  );
  assert.equal(err.code, Code.InvalidArgument);
  const info = err.findDetails(ErrorInfoSchema)[0];
  assert.equal(info?.reason, ErrorReason.INVALID_FIELD);
  assert.equal(info?.field, "service");
  assert.equal(rig.handled(), 1, "the handler never saw the bad request");
});
