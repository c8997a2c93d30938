import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiKeyService } from "../../gen/nexus/v1/api_keys_pb.ts";
import { AuditService } from "../../gen/nexus/v1/audit_pb.ts";
import { ConnectionService } from "../../gen/nexus/v1/connections_pb.ts";
import { ProviderService } from "../../gen/nexus/v1/providers_pb.ts";
import { TokenService } from "../../gen/nexus/v1/tokens_pb.ts";
import { type FixtureRule as RuleInit, createFixtureService as serviceWith } from "../../test/support/test-fixture-service.ts";
import { type HttpRoute, InvalidHttpRuleError, readHttpRules } from "./http-rules.ts";

const NEXUS = [ConnectionService, TokenService, ProviderService, ApiKeyService, AuditService];

function find(routes: HttpRoute[], httpMethod: string, template: string): HttpRoute {
  const route = routes.find((r) => r.httpMethod === httpMethod && r.template.template === template);
  assert.ok(route, `${httpMethod} ${template}`);
  return route;
}

test("reads every annotated unary method of the Nexus services", () => {
  const routes = readHttpRules(NEXUS);
  assert.equal(routes.length, 18);
  assert.ok(!routes.some((r) => r.method.name === "WatchCredentials"));

  const token = find(routes, "GET", "/v1/token/{connection_id}");
  assert.equal(token.method, TokenService.method.getToken);
  assert.equal(token.responseBodyField?.name, "credential");
  assert.deepEqual(token.body, { kind: "none" });
  assert.deepEqual([...token.pathFields.keys()], ["connection_id"]);

  const revoke = find(routes, "POST", "/v1/connections/{connection_id}:revoke");
  assert.equal(revoke.method, ConnectionService.method.revokeConnection);
  assert.equal(revoke.body.kind, "all");

  const update = find(routes, "PATCH", "/v1/providers/{provider.name}");
  assert.equal(update.body.kind === "field" ? update.body.field.name : "", "provider");
  assert.deepEqual(
    update.pathFields.get("provider.name")?.map((f) => f.name),
    ["provider", "name"],
  );

  find(routes, "DELETE", "/v1/providers/{name}");
  find(routes, "GET", "/v1/connections");
});

test("routes come most specific first", () => {
  const routes = readHttpRules(NEXUS);
  const get = routes.findIndex((r) => r.template.template === "/v1/connections/{connection_id}");
  const revoke = routes.findIndex((r) => r.template.template === "/v1/connections/{connection_id}:revoke");
  assert.ok(revoke < get, "the verb template is tried before the plain one");
});

test("additional_bindings and custom methods become routes", () => {
  const routes = readHttpRules([
    serviceWith({
      pattern: { case: "get", value: "/v1/things/{id}" },
      responseBody: "sub",
      additionalBindings: [
        { pattern: { case: "post", value: "/v1/things/{sub.name}:lookup" }, body: "*" },
        { pattern: { case: "custom", value: { kind: "search", path: "/v1/things" } } },
      ],
    }),
  ]);
  assert.deepEqual(
    routes.map((r) => `${r.httpMethod} ${r.template.template}`),
    ["POST /v1/things/{sub.name}:lookup", "SEARCH /v1/things", "GET /v1/things/{id}"],
  );
  assert.equal(routes[2]?.responseBodyField?.name, "sub");
  assert.equal(routes[0]?.responseBodyField, undefined);
});

test("rules that cannot be served fail at start-up, naming the method", () => {
  const cases: [RuleInit, RegExp][] = [
    [{ pattern: { case: "get", value: "v1/things" } }, /invalid path template "v1\/things" at offset 0/],
    [{ pattern: { case: "get", value: "/v1/{nope}" } }, /path variable "nope": no field "nope" in t.v1.Req/],
    [{ pattern: { case: "get", value: "/v1/{tags}" } }, /must name a singular scalar or enum field/],
    [{ pattern: { case: "get", value: "/v1/{sub}" } }, /must name a singular scalar or enum field/],
    [{ pattern: { case: "get", value: "/v1/{id.x}" } }, /no field "x"/],
    [{ pattern: { case: "post", value: "/v1/x" }, body: "nope" }, /body "nope" is not a top-level field/],
    [{ pattern: { case: "get", value: "/v1/x" }, responseBody: "text" }, /response_body "text" must be a top-level singular message field/],
    [{ body: "*" }, /no pattern/],
    [{ pattern: { case: "custom", value: { kind: "*", path: "/v1/x" } } }, /not an HTTP method/],
    [
      { pattern: { case: "get", value: "/v1/x" }, additionalBindings: [{ pattern: { case: "get", value: "/v1/x" } }] },
      /GET \/v1\/x is already bound to t.v1.S.M/,
    ],
    [
      {
        pattern: { case: "get", value: "/v1/x" },
        additionalBindings: [
          { pattern: { case: "get", value: "/v1/y" }, additionalBindings: [{ pattern: { case: "get", value: "/v1/z" } }] },
        ],
      },
      /must not nest/,
    ],
  ];
  for (const [rule, reason] of cases) {
    assert.throws(
      () => readHttpRules([serviceWith(rule)]),
      (err: unknown) =>
        err instanceof InvalidHttpRuleError &&
        err.methodName === "t.v1.S.M" &&
        err.message.startsWith("google.api.http rule of t.v1.S.M: ") &&
        reason.test(err.message),
      reason.source,
    );
  }
});
