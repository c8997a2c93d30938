// The in-process address interceptor at its seam: the header REST sets becomes kClientAddress.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "../../../gen/grpc/health/v1/health_pb.ts";
import { CLIENT_ADDRESS_HEADER, kClientAddress } from "../../request/context.ts";
import { createInProcessAddressInterceptor } from "./in-process-address-interceptor.ts";

function setup() {
  const seen: string[] = [];
  const transport = createRouterTransport(
    (router) =>
      router.service(Health, {
        check: (_req, ctx) => {
          seen.push(ctx.values.get(kClientAddress));
          return { status: HealthCheckResponse_ServingStatus.SERVING };
        },
        watch: async function* () {},
      }),
    { router: { interceptors: [createInProcessAddressInterceptor()] } },
  );
  return { client: createClient(Health, transport), seen };
}

test("the header's address reaches the handler, cut to 64 characters; without it the default stays", async () => {
  const rig = setup();
  await rig.client.check({}, { headers: { [CLIENT_ADDRESS_HEADER]: "203.0.113.7" } });
  await rig.client.check({}, { headers: { [CLIENT_ADDRESS_HEADER]: "x".repeat(100) } });
  await rig.client.check({});
  assert.equal(rig.seen[0], "203.0.113.7");
  assert.equal(rig.seen[1], "x".repeat(64));
  assert.equal(rig.seen[2], kClientAddress.defaultValue);
});
