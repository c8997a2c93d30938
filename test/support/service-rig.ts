/**
 * What the service seam tests (server/services/*.test.ts) share: a real store in a fresh data
 * directory (SQLite, or PostgreSQL with NEXUS_TEST_STORE=postgres), and an in-memory router
 * transport that runs the service behind the error interceptor with the caller the test names, so
 * handlers are called as the server calls them (domain errors become codes and reasons) without a
 * socket, an API key or the rest of the interceptor chain.
 */
import assert from "node:assert/strict";
import type { DescService } from "@bufbuild/protobuf";
import { type Client, ConnectError, type ConnectRouter, createClient, createRouterTransport, type Interceptor } from "@connectrpc/connect";
import { ErrorInfoSchema, type ErrorReason } from "../../gen/nexus/v1/errors_pb.ts";
import { createLogger } from "../../server/logging/logger.ts";
import { kPrincipal } from "../../server/request/context.ts";
import type { Principal } from "../../server/request/principal.ts";
import { createErrorInterceptor } from "../../server/rpc/interceptors/error-interceptor.ts";
import type { Store } from "../../server/store/store.ts";
import { createTempDataDir } from "./temp-data-dir.ts";
import { dropTestStore, openTestStore } from "./test-store.ts";

/** An admin key's principal (every tenant). */
export const ADMIN: Principal = { keyId: "key_admin", role: "admin", tenantId: null, proxyRules: [], canReadTokens: true };

/** An agent key's principal, acting in `tenantId` only. */
export function agentOf(tenantId: string): Principal {
  return { keyId: `key_agent_${tenantId}`, role: "agent", tenantId, proxyRules: [], canReadTokens: true };
}

/** A store on its own data directory; `close()` closes it and removes the directory (or database). */
export async function openServiceStore(): Promise<{ store: Store; close(): Promise<void> }> {
  const dir = createTempDataDir("nexus-service-");
  const store = await openTestStore(dir.path);
  return {
    store,
    async close() {
      await store.close();
      await dropTestStore(dir.path);
      dir.remove();
    },
  };
}

/** Puts `principal` where the auth interceptor would (kPrincipal). */
function asCaller(principal: Principal): Interceptor {
  return (next) => (req) => {
    req.contextValues.set(kPrincipal, principal);
    return next(req);
  };
}

/**
 * A client of `service` whose calls run `routes` in memory as `principal`, behind the error
 * interceptor (which sits outside access control in the server's chain too).
 */
export function serviceClient<S extends DescService>(service: S, routes: (router: ConnectRouter) => void, principal: Principal): Client<S> {
  const logger = createLogger({ level: "silent" });
  const transport = createRouterTransport(routes, {
    router: { interceptors: [createErrorInterceptor({ logger }), asCaller(principal)] },
  });
  return createClient(service, transport);
}

/** The ConnectError `promise` rejects with; fails the test when it resolves. */
export async function refusal(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (err) {
    return ConnectError.from(err);
  }
  assert.fail("the call succeeded");
}

/** The ErrorInfo reason of a refusal. */
export function reasonOf(err: ConnectError): ErrorReason | undefined {
  return err.findDetails(ErrorInfoSchema)[0]?.reason;
}
