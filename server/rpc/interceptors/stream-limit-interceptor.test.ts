// The stream-limit interceptor at its seam: Health.Watch streams on an in-memory router transport,
// with a stand-in for auth putting the caller's key or address in place. Streams end when the test
// says so, and the test waits for that event, not for time.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Code, ConnectError, createClient, createRouterTransport, type Interceptor } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "../../../gen/grpc/health/v1/health_pb.ts";
import { ErrorInfoSchema, ErrorReason } from "../../../gen/nexus/v1/errors_pb.ts";
import { eventually } from "../../../test/support/wait.ts";
import { kClientAddress, kPrincipal } from "../../request/context.ts";
import { createStreamLimitInterceptor } from "./stream-limit-interceptor.ts";

/** Health whose Watch sends SERVING, then stays open until `endAll`; behind [stand-in auth, stream limit]. */
function setup() {
  let endAll: () => void = () => {};
  let ended = new Promise<void>((resolve) => (endAll = resolve));
  let checks = 0;
  const asCaller: Interceptor = (next) => (req) => {
    const keyId = req.header.get("x-test-key");
    if (keyId !== null) req.contextValues.set(kPrincipal, { keyId, role: "agent", tenantId: "t", proxyRules: [], canReadTokens: true });
    req.contextValues.set(kClientAddress, req.header.get("x-test-address") ?? "127.0.0.1");
    return next(req);
  };
  const transport = createRouterTransport(
    (router) =>
      router.service(Health, {
        check: () => {
          checks += 1;
          return { status: HealthCheckResponse_ServingStatus.SERVING };
        },
        watch: async function* () {
          yield { status: HealthCheckResponse_ServingStatus.SERVING };
          await ended;
        },
      }),
    { router: { interceptors: [asCaller, createStreamLimitInterceptor({ maxPerKey: 2, maxAnonymousPerAddress: 1 })] } },
  );
  const client = createClient(Health, transport);
  const running: Promise<void>[] = [];
  /** Opens a watch; resolves "open" after its first message, or the refusal's reason. */
  const open = async (headers: Record<string, string>) => {
    const it = client.watch({}, { headers })[Symbol.asyncIterator]();
    try {
      await it.next();
    } catch (err) {
      const error = ConnectError.from(err);
      assert.equal(error.code, Code.ResourceExhausted);
      return error.findDetails(ErrorInfoSchema)[0]?.reason;
    }
    running.push((async () => void (await it.next()))());
    return "open";
  };
  return {
    open,
    check: (headers: Record<string, string>) => client.check({}, { headers }),
    checks: () => checks,
    /** Ends every open stream and waits until each has finished at the client. */
    async endStreams() {
      endAll();
      await Promise.all(running.splice(0));
      ended = new Promise<void>((resolve) => (endAll = resolve));
    },
  };
}

test("a key holds at most maxPerKey streams; the next is TOO_MANY_STREAMS; other keys and unary calls are not counted", async () => {
  const rig = setup();
  const k1 = { "x-test-key": "k1" };
  assert.equal(await rig.open(k1), "open");
  assert.equal(await rig.open(k1), "open");
  assert.equal(await rig.open(k1), ErrorReason.TOO_MANY_STREAMS);
  assert.equal(await rig.open({ "x-test-key": "k2" }), "open", "another key counts apart");
  for (let i = 0; i < 3; i++) await rig.check(k1);
  assert.equal(rig.checks(), 3, "unary calls pass whatever the stream count");
  await rig.endStreams();
});

test("a stream that ends frees its slot", async () => {
  const rig = setup();
  const k1 = { "x-test-key": "k1" };
  assert.equal(await rig.open(k1), "open");
  assert.equal(await rig.open(k1), "open");
  await rig.endStreams();
  // The release runs when the server side of the stream ends, just after the client saw the end.
  let reopened: unknown;
  await eventually(
    async () => {
      reopened = await rig.open(k1);
      return reopened === "open";
    },
    10_000,
    "a slot freed by the ended streams",
  );
  assert.equal(reopened, "open");
  await rig.endStreams();
});

test("without a key, streams are counted per client address, apart from keys", async () => {
  const rig = setup();
  assert.equal(await rig.open({ "x-test-address": "192.0.2.1" }), "open");
  assert.equal(await rig.open({ "x-test-address": "192.0.2.1" }), ErrorReason.TOO_MANY_STREAMS);
  assert.equal(await rig.open({ "x-test-address": "192.0.2.2" }), "open", "another address counts apart");
  assert.equal(await rig.open({ "x-test-key": "k1", "x-test-address": "192.0.2.1" }), "open", "a key from that address counts by key");
  await rig.endStreams();
});
