import assert from "node:assert/strict";
import { test } from "node:test";
import { Code, ConnectError, createClient, createRouterTransport, type Interceptor } from "@connectrpc/connect";
import { ErrorInfoSchema, ErrorReason } from "../../../gen/nexus/v1/errors_pb.ts";
import { TokenService } from "../../../gen/nexus/v1/tokens_pb.ts";
import { createApiKeyLiveness } from "../../auth/api-key-liveness.ts";
import { kAdmitOnSend, kAssertKeyValid, kPrincipal } from "../../request/context.ts";
import type { Principal } from "../../request/principal.ts";
import { createKeyValidityInterceptor } from "./key-validity-interceptor.ts";

const principal: Principal = { keyId: "key_w", role: "agent", tenantId: "acme", expiresAtMs: null, proxyRules: [], canReadTokens: true };

/** A TokenService whose watch sends one heartbeat, then waits for `release` and tries to deliver. */
function setup() {
  const liveness = createApiKeyLiveness({
    store: { getApiKey: () => Promise.reject(new Error("unused")) },
    now: Date.now,
    logger: { warn() {} },
    recheckMs: 0,
  });
  const seen = {
    handlerSignal: undefined as AbortSignal | undefined,
    assertThrew: undefined as unknown,
    started: Promise.withResolvers<void>(),
  };
  const release = Promise.withResolvers<void>();
  const asPrincipal: Interceptor = (next) => (req) => {
    req.contextValues.set(kPrincipal, principal);
    return next(req);
  };
  const transport = createRouterTransport(
    ({ service }) =>
      service(TokenService, {
        getToken: () => ({}),
        async *watchCredentials(_req, ctx) {
          seen.handlerSignal = ctx.signal;
          yield { event: { case: "heartbeat", value: { serverTime: 1n } } };
          seen.started.resolve();
          await release.promise;
          try {
            ctx.values.get(kAssertKeyValid)();
          } catch (err) {
            seen.assertThrew = err;
            throw err;
          }
          yield { event: { case: "heartbeat", value: { serverTime: 2n } } };
        },
      }),
    { router: { interceptors: [asPrincipal, createKeyValidityInterceptor({ liveness })] } },
  );
  return { liveness, seen, release, client: createClient(TokenService, transport) };
}

async function drain(stream: AsyncIterable<unknown>, received: unknown[]): Promise<ConnectError | undefined> {
  try {
    for await (const message of stream) received.push(message);
    return undefined;
  } catch (err) {
    return ConnectError.from(err);
  }
}

test("a revocation ends a waiting stream with Unauthenticated + API_KEY_REVOKED and aborts the handler's signal", async () => {
  const { liveness, seen, client } = setup();
  const received: unknown[] = [];
  const ended = drain(client.watchCredentials({ connectionId: "c" }), received);
  await seen.started.promise;
  liveness.revoked("key_w");
  const error = await ended;
  assert.equal(error?.code, Code.Unauthenticated);
  assert.deepEqual(
    error.findDetails(ErrorInfoSchema).map((d) => d.reason),
    [ErrorReason.API_KEY_REVOKED],
  );
  assert.equal(received.length, 1, "only what came before the revocation");
  assert.equal(seen.handlerSignal?.aborted, true, "the handler's waits end too");
  assert.equal(liveness.trackedKeyCount(), 0, "the stream let go of its registration");
});

test("a handler about to deliver after a revocation is stopped by kAssertKeyValid", async () => {
  const { liveness, seen, release, client } = setup();
  const received: unknown[] = [];
  const ended = drain(client.watchCredentials({ connectionId: "c" }), received);
  await seen.started.promise;
  liveness.revoked("key_w");
  release.resolve();
  assert.equal((await ended)?.code, Code.Unauthenticated);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(ConnectError.from(seen.assertThrew).code, Code.Unauthenticated, "the handler's own check refused the delivery");
  assert.equal(received.length, 1);
});

test("a stream opened by a key already known revoked is refused at once; unary calls too", async () => {
  const { liveness, client } = setup();
  liveness.revoked("key_w");
  const error = await drain(client.watchCredentials({ connectionId: "c" }), []);
  assert.equal(error?.code, Code.Unauthenticated);
  await assert.rejects(client.getToken({ connectionId: "c" }), (err) => ConnectError.from(err).code === Code.Unauthenticated);
});

/** A TokenService whose handlers run `during` (e.g. a revocation) before they answer. */
function withHandlers(during: (liveness: ReturnType<typeof createApiKeyLiveness>) => void) {
  const liveness = createApiKeyLiveness({
    store: { getApiKey: () => Promise.reject(new Error("unused")) },
    now: Date.now,
    logger: { warn() {} },
    recheckMs: 0,
  });
  const admitted: string[] = [];
  const asPrincipal: Interceptor = (next) => (req) => {
    req.contextValues.set(kPrincipal, principal);
    return next(req);
  };
  const transport = createRouterTransport(
    ({ service }) =>
      service(TokenService, {
        async getToken() {
          await Promise.resolve();
          during(liveness);
          return {};
        },
        async *watchCredentials(_req, ctx) {
          ctx.values.get(kAdmitOnSend)(() => admitted.push("v1"));
          yield { event: { case: "credential", value: { version: 1n } } };
          ctx.values.get(kAdmitOnSend)(() => admitted.push("v2"));
          during(liveness);
          yield { event: { case: "credential", value: { version: 2n } } };
        },
      }),
    { router: { interceptors: [asPrincipal, createKeyValidityInterceptor({ liveness })] } },
  );
  return { admitted, client: createClient(TokenService, transport) };
}

test("a unary call whose key is revoked while its handler runs answers Unauthenticated, not its result", async () => {
  const { client } = withHandlers((liveness) => liveness.revoked("key_w"));
  await assert.rejects(client.getToken({ connectionId: "c" }), (err) => {
    const error = ConnectError.from(err);
    return error.code === Code.Unauthenticated && error.findDetails(ErrorInfoSchema)[0]?.reason === ErrorReason.API_KEY_REVOKED;
  });
});

test("a credential's delivery is admitted only after the last key check: revoked in between, no row", async () => {
  const { admitted, client } = withHandlers((liveness) => liveness.revoked("key_w"));
  const received: unknown[] = [];
  const error = await drain(client.watchCredentials({ connectionId: "c" }), received);
  assert.equal(error?.code, Code.Unauthenticated);
  assert.equal(received.length, 1, "only the first credential was sent");
  assert.deepEqual(admitted, ["v1"], "the second credential, never sent, was never audited");
});

test("a stream that ends normally unregisters its key", async () => {
  const { liveness, seen, release, client } = setup();
  const received: unknown[] = [];
  const ended = drain(client.watchCredentials({ connectionId: "c" }), received);
  await seen.started.promise;
  assert.equal(liveness.trackedKeyCount(), 1);
  release.resolve();
  assert.equal(await ended, undefined);
  assert.equal(received.length, 2);
  assert.equal(liveness.trackedKeyCount(), 0);
});
