import assert from "node:assert/strict";
import { test } from "node:test";
import { Health } from "../../gen/grpc/health/v1/health_pb.ts";
import { ServerReflection } from "../../gen/grpc/reflection/v1/reflection_pb.ts";
import { AUDITED_METHODS } from "../audit/audit-actions.ts";
import { NEXUS_SERVICES } from "../rpc/routes.ts";
import { accessOf, PERMISSIONS } from "./permissions.ts";

const routed = [...NEXUS_SERVICES, Health, ServerReflection].flatMap((s) => s.methods.map((m) => `${s.typeName}/${m.name}`));

test("every routed method has exactly one row, and no row names a method that does not exist", () => {
  for (const method of routed) assert.ok(PERMISSIONS[method] !== undefined, `${method} has no permission row`);
  assert.deepEqual(Object.keys(PERMISSIONS).sort(), [...routed].sort());
  for (const method of Object.keys(AUDITED_METHODS)) assert.ok(routed.includes(method), `audited ${method} is routed`);
});

test("admin-only surfaces stay admin-only; only health is public", () => {
  for (const method of routed) {
    const access = PERMISSIONS[method]!;
    if (method.startsWith("grpc.health.v1.")) assert.equal(access, "public", method);
    else assert.notEqual(access, "public", method);
    if (/ApiKeyService|AuditService|ProviderService\/(Create|Update|Delete)/.test(method)) assert.deepEqual(access, ["admin"], method);
  }
  assert.equal(accessOf("nexus.v1.NoSuchService", "Method"), undefined);
});
