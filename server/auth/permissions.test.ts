import assert from "node:assert/strict";
import { test } from "node:test";
import type { DescMessage } from "@bufbuild/protobuf";
import { Health } from "../../gen/grpc/health/v1/health_pb.ts";
import { ServerReflection } from "../../gen/grpc/reflection/v1/reflection_pb.ts";
import { CredentialSchema } from "../../gen/nexus/v1/credential_pb.ts";
import { AUDITED_METHODS } from "../audit/audit-actions.ts";
import { NEXUS_SERVICES } from "../rpc/routes.ts";
import { accessOf, CREDENTIAL_METHODS, deliversCredentials, PERMISSIONS } from "./permissions.ts";

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

test("every routed method whose answer can carry a Credential is in CREDENTIAL_METHODS, and only those", () => {
  const carriesCredential = (message: DescMessage, seen = new Set<string>()): boolean => {
    if (message.typeName === CredentialSchema.typeName) return true;
    if (seen.has(message.typeName)) return false;
    seen.add(message.typeName);
    return message.fields.some((field) => {
      const nested = field.fieldKind === "message" || field.fieldKind === "list" || field.fieldKind === "map" ? field.message : undefined;
      return nested !== undefined && carriesCredential(nested, seen);
    });
  };
  const services = [...NEXUS_SERVICES, Health, ServerReflection];
  const delivering = services.flatMap((s) => s.methods.filter((m) => carriesCredential(m.output)).map((m) => `${s.typeName}/${m.name}`));
  assert.ok(delivering.includes("nexus.v1.TokenService/WatchCredentials"), "the walk sees through oneofs and streams");
  assert.deepEqual([...CREDENTIAL_METHODS].sort(), delivering.sort());
  assert.equal(deliversCredentials("nexus.v1.TokenService", "GetToken"), true);
  assert.equal(deliversCredentials("nexus.v1.ConnectionService", "GetConnection"), false);
});
