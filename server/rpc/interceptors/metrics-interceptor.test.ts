// The metrics interceptor at its seam: a Health service on an in-memory router transport, a fresh
// prom-client registry, and a clock the test moves. Reads the counter, histogram and gauge values.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { Registry } from "prom-client";
import { Health, HealthCheckResponse_ServingStatus } from "../../../gen/grpc/health/v1/health_pb.ts";
import { createServerMetrics } from "../../metrics/server-metrics.ts";
import { codeLabel, createMetricsInterceptor } from "./metrics-interceptor.ts";

function setup() {
  let nowMs = 0;
  const { promise: released, resolve: release } = Promise.withResolvers<void>();
  const metrics = createServerMetrics(new Registry());
  const transport = createRouterTransport(
    (router) =>
      router.service(Health, {
        check: (req) => {
          nowMs += 250;
          if (req.service === "missing") throw new ConnectError("no such service", Code.NotFound);
          return { status: HealthCheckResponse_ServingStatus.SERVING };
        },
        watch: async function* () {
          yield { status: HealthCheckResponse_ServingStatus.SERVING };
          await released;
          nowMs += 2000;
        },
      }),
    { router: { interceptors: [createMetricsInterceptor({ metrics, now: () => nowMs })] } },
  );
  const value = async (name: string, labels: Record<string, string>) => {
    // Histogram series (name_sum, name_count) are listed under the histogram with their own metricName.
    const values = (await metrics.registry.getMetricsAsJSON()).flatMap((m) =>
      m.values.map((v) => ({ ...v, series: (v as { metricName?: string }).metricName ?? m.name })),
    );
    const found = values.find((v) => v.series === name && Object.entries(labels).every(([k, l]) => v.labels[k] === l));
    return found?.value;
  };
  return { client: createClient(Health, transport), value, release: () => release() };
}

const check = { service: "grpc.health.v1.Health", method: "Check" };
const watch = { service: "grpc.health.v1.Health", method: "Watch" };

test("unary calls are counted by final code, with their duration from the injected clock", async () => {
  const rig = setup();
  await rig.client.check({});
  await rig.client.check({});
  await assert.rejects(rig.client.check({ service: "missing" }), (err) => ConnectError.from(err).code === Code.NotFound);
  assert.equal(await rig.value("nexus_rpc_requests_total", { ...check, code: "ok" }), 2);
  assert.equal(await rig.value("nexus_rpc_requests_total", { ...check, code: "not_found" }), 1);
  const sum = await rig.value("nexus_rpc_duration_seconds_sum", { ...check, code: "ok" });
  assert.equal(sum, 0.5, "two calls of 250 ms each");
});

test("a stream is open in the gauge until it ends, then recorded with its whole duration", async () => {
  const rig = setup();
  const stream = rig.client.watch({})[Symbol.asyncIterator]();
  assert.equal((await stream.next()).done, false);
  assert.equal(await rig.value("nexus_rpc_streams_open", watch), 1);
  assert.equal(await rig.value("nexus_rpc_requests_total", { ...watch, code: "ok" }), undefined, "not recorded while open");
  rig.release();
  assert.equal((await stream.next()).done, true);
  assert.equal(await rig.value("nexus_rpc_streams_open", watch), 0);
  assert.equal(await rig.value("nexus_rpc_requests_total", { ...watch, code: "ok" }), 1);
  assert.equal(await rig.value("nexus_rpc_duration_seconds_sum", { ...watch, code: "ok" }), 2);
});

test("codeLabel names codes in snake_case", () => {
  assert.equal(codeLabel(undefined), "ok");
  assert.equal(codeLabel(new ConnectError("x", Code.ResourceExhausted)), "resource_exhausted");
  assert.equal(codeLabel(new Error("plain")), "unknown");
});
