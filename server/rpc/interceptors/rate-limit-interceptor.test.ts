// The rate-limit interceptor at its seam: a real Health service on an in-memory router transport,
// a principal put in place by a stand-in for auth, real token buckets on a clock the test moves.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Code, ConnectError, createClient, createRouterTransport, type Interceptor } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "../../../gen/grpc/health/v1/health_pb.ts";
import { ErrorInfoSchema, ErrorReason } from "../../../gen/nexus/v1/errors_pb.ts";
import { createTokenBuckets } from "../../limits/token-buckets.ts";
import { kPrincipal } from "../../request/context.ts";
import { createRateLimitInterceptor, encodeRetryInfo } from "./rate-limit-interceptor.ts";

/** Health behind [stand-in auth, rate limit]; the caller's key id travels in a header (absent: no principal). */
function setup(ratePerSecond: number, burst: number) {
  let nowMs = 0;
  let handled = 0;
  const asKey: Interceptor = (next) => (req) => {
    const keyId = req.header.get("x-test-key");
    if (keyId !== null) req.contextValues.set(kPrincipal, { keyId, role: "agent", tenantId: "t", proxyRules: [], canReadTokens: true });
    return next(req);
  };
  const buckets = createTokenBuckets({ ratePerSecond, burst, now: () => nowMs });
  const transport = createRouterTransport(
    (router) =>
      router.service(Health, {
        check: () => {
          handled += 1;
          return { status: HealthCheckResponse_ServingStatus.SERVING };
        },
        watch: async function* () {},
      }),
    { router: { interceptors: [asKey, createRateLimitInterceptor({ buckets })] } },
  );
  const client = createClient(Health, transport);
  return {
    call: (keyId?: string) =>
      client.check({}, keyId === undefined ? {} : { headers: { "x-test-key": keyId } }).then(
        () => "ok" as const,
        (err: unknown) => ConnectError.from(err),
      ),
    advance: (ms: number) => (nowMs += ms),
    handled: () => handled,
  };
}

test("a key gets its burst, then ResourceExhausted with retry-after and RetryInfo; the handler never runs for it", async () => {
  const rig = setup(1, 2);
  assert.equal(await rig.call("k1"), "ok");
  assert.equal(await rig.call("k1"), "ok");
  const refused = await rig.call("k1");
  assert.ok(refused instanceof ConnectError);
  assert.equal(refused.code, Code.ResourceExhausted);
  assert.equal(refused.findDetails(ErrorInfoSchema)[0]?.reason, ErrorReason.RATE_LIMITED);
  assert.equal(refused.metadata.get("retry-after"), "1", "whole seconds, at least 1");
  const retryInfo = refused.details.find((d) => "type" in d && d.type === "google.rpc.RetryInfo");
  assert.ok(retryInfo && "value" in retryInfo, "a RetryInfo detail");
  assert.deepEqual(retryInfo.value, encodeRetryInfo(1000), "the exact delay: one token at 1/s");
  assert.equal(rig.handled(), 2);
});

test("buckets are per key, calls without a principal are not limited here, and time refills a bucket", async () => {
  const rig = setup(2, 1);
  assert.equal(await rig.call("k1"), "ok");
  assert.ok((await rig.call("k1")) instanceof ConnectError, "k1 is out of tokens");
  assert.equal(await rig.call("k2"), "ok", "another key has its own bucket");
  for (let i = 0; i < 5; i++) assert.equal(await rig.call(), "ok", "no principal: public method, not limited");
  rig.advance(499);
  assert.ok((await rig.call("k1")) instanceof ConnectError, "not yet a whole token at 2/s");
  rig.advance(1);
  assert.equal(await rig.call("k1"), "ok", "a token after 500 ms");
});
