// The interceptor order is declared once: every role placed exactly once, access control inside the
// error mapper, input checks innermost, the in-process address interceptor only on REST's transport;
// and, through an in-memory router transport, connect-es runs the list in that order.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Code, ConnectError, createClient, createRouterTransport, type Interceptor } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.ts";
import { INTERCEPTOR_ORDER, type InterceptorsByRole, orderInterceptors } from "./interceptor-order.ts";

/** One distinct interceptor per role, named after it, so the order can be read back. */
function byRole(): { interceptors: InterceptorsByRole; roleOf: Map<Interceptor, string> } {
  const roleOf = new Map<Interceptor, string>();
  const interceptors = Object.fromEntries(
    INTERCEPTOR_ORDER.map((role) => {
      const interceptor: Interceptor = (next) => next;
      roleOf.set(interceptor, role);
      return [role, interceptor];
    }),
  ) as unknown as InterceptorsByRole;
  return { interceptors, roleOf };
}

test("the public chain: logging outermost, error mapper around access control, input innermost", () => {
  const { interceptors, roleOf } = byRole();
  const roles = orderInterceptors(interceptors, "public").map((i) => roleOf.get(i));
  assert.deepEqual(roles, ["logging", "metrics", "error", "auth", "rateLimit", "streamLimit", "audit", "keyValidity", "input"]);
});

test("the in-process chain REST uses adds the client-address interceptor first, the rest unchanged", () => {
  const { interceptors, roleOf } = byRole();
  const roles = orderInterceptors(interceptors, "in-process").map((i) => roleOf.get(i));
  assert.equal(roles[0], "inProcessAddress");
  assert.deepEqual(
    roles.slice(1),
    orderInterceptors(interceptors, "public").map((i) => roleOf.get(i)),
  );
  assert.equal(new Set(INTERCEPTOR_ORDER).size, INTERCEPTOR_ORDER.length, "each role placed once");
});

/** The public chain of recording interceptors on a router transport (in-memory) serving Health. */
function recordedChain(refuseAt?: (typeof INTERCEPTOR_ORDER)[number]) {
  const seen: string[] = [];
  const interceptors = Object.fromEntries(
    INTERCEPTOR_ORDER.map((role): [string, Interceptor] => [
      role,
      (next) => async (req) => {
        seen.push(`in:${role}`);
        try {
          if (role === refuseAt) throw new ConnectError("refused", Code.PermissionDenied);
          return await next(req);
        } finally {
          seen.push(`out:${role}`);
        }
      },
    ]),
  ) as unknown as InterceptorsByRole;
  const transport = createRouterTransport(
    (router) =>
      router.service(Health, {
        check: () => {
          seen.push("handler");
          return { status: HealthCheckResponse_ServingStatus.SERVING };
        },
        watch: async function* () {},
      }),
    { router: { interceptors: orderInterceptors(interceptors, "public") } },
  );
  return { seen, client: createClient(Health, transport) };
}

test("through a router transport, the first role sees the request first and the outcome last", async () => {
  const { seen, client } = recordedChain();
  assert.equal((await client.check({})).status, HealthCheckResponse_ServingStatus.SERVING);
  const publicRoles = INTERCEPTOR_ORDER.filter((role) => role !== "inProcessAddress");
  assert.deepEqual(seen, [...publicRoles.map((r) => `in:${r}`), "handler", ...publicRoles.toReversed().map((r) => `out:${r}`)]);
});

test("a refusal by auth is seen by the error mapper, metrics and logging, never by the checks inside it", async () => {
  const { seen, client } = recordedChain("auth");
  await assert.rejects(client.check({}), (err: unknown) => ConnectError.from(err).code === Code.PermissionDenied);
  assert.deepEqual(seen, ["in:logging", "in:metrics", "in:error", "in:auth", "out:auth", "out:error", "out:metrics", "out:logging"]);
});
