// The interceptor order is declared once: every role placed exactly once, access control inside the
// error mapper, input checks innermost, the in-process address interceptor only on REST's transport.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Interceptor } from "@connectrpc/connect";
import { INTERCEPTOR_ORDER, orderInterceptors, type InterceptorsByRole } from "./interceptor-order.ts";

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
  assert.deepEqual(roles.slice(1), orderInterceptors(interceptors, "public").map((i) => roleOf.get(i)));
  assert.equal(new Set(INTERCEPTOR_ORDER).size, INTERCEPTOR_ORDER.length, "each role placed once");
});
