import assert from "node:assert/strict";
import { test } from "node:test";
import type { JsonValue } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { ConnectionService } from "../../gen/nexus/v1/connections_pb.ts";
import { ConnectionStatus } from "../../gen/nexus/v1/status_pb.ts";
import { createFixtureService, type FixtureRule } from "../../test/support/test-fixture-service.ts";
import { InvalidArgumentError } from "../domain/errors.ts";
import { type HttpRoute, readHttpRules } from "./http-rules.ts";
import { buildRestRequest } from "./rest-request.ts";

function routeFor(rule: FixtureRule): HttpRoute {
  const [route] = readHttpRules([createFixtureService(rule)]);
  assert.ok(route);
  return route;
}

function build(route: HttpRoute, path: string, query = "", body?: JsonValue) {
  const bindings = route.template.match(path);
  assert.ok(bindings, `${path} matches ${route.template.template}`);
  // The fixture's message type is dynamic: read fields by local name.
  return buildRestRequest(route, { bindings, query, body }) as unknown as Record<string, unknown> & {
    sub?: { name: string; count: bigint };
  };
}

function invalid(fn: () => unknown, field: string, reason: RegExp): void {
  assert.throws(
    fn,
    (err: unknown) => err instanceof InvalidArgumentError && err.field === field && reason.test(err.reason),
    `${field}: ${reason.source}`,
  );
}

const getRoute = routeFor({ pattern: { case: "get", value: "/v1/things/{id}" } });

test("query parameters fill the fields the path does not bind", () => {
  const req = build(
    getRoute,
    "/v1/things/t%201",
    "tags=a&tags=b+c&sub.name=n%26m&count=9007199254740993&flag=true&status=active&statuses=revoked&statuses=CONNECTION_STATUS_PENDING&statuses=2&when=2024-01-02T03:04:05Z",
  );
  assert.equal(req.id, "t 1");
  assert.deepEqual(req.tags, ["a", "b c"]);
  assert.equal(req.sub?.name, "n&m");
  assert.equal(req.count, 9007199254740993n);
  assert.equal(req.flag, true);
  assert.equal(req.status, ConnectionStatus.ACTIVE);
  assert.deepEqual(req.statuses, [ConnectionStatus.REVOKED, ConnectionStatus.PENDING, ConnectionStatus.ACTIVE]);
  assert.equal(timestampMs(req.when as never), Date.UTC(2024, 0, 2, 3, 4, 5));
});

test("query names may use JSON names, and empty pieces are skipped", () => {
  const route = readHttpRules([ConnectionService]).find((r) => r.method === ConnectionService.method.listConnections);
  assert.ok(route);
  const req = build(route, "/v1/connections", "&pageSize=5&&user_id=u1&status=attention_required&");
  assert.equal(req.pageSize, 5);
  assert.equal(req.userId, "u1");
  assert.equal(req.status, ConnectionStatus.ATTENTION_REQUIRED);
});

test("bad query parameters are InvalidArgument naming the parameter", () => {
  invalid(() => build(getRoute, "/v1/things/x", "colour=red"), "colour", /unknown query parameter/);
  invalid(() => build(getRoute, "/v1/things/x", "id=y"), "id", /set by the URL path/);
  invalid(() => build(getRoute, "/v1/things/x", "flag=yes"), "flag", /true or false/);
  invalid(() => build(getRoute, "/v1/things/x", "count=1&count=2"), "count", /more than once/);
  invalid(() => build(getRoute, "/v1/things/x", "count=lots"), "count", /int64/);
  invalid(() => build(getRoute, "/v1/things/x", "status=asleep"), "status", /unknown value "asleep"/);
  invalid(() => build(getRoute, "/v1/things/x", "sub=1"), "sub", /use dotted names/);
  invalid(() => build(getRoute, "/v1/things/x", "when=noon"), "when", /RFC 3339/);
  invalid(() => build(getRoute, "/v1/things/x", "tags=%E0%A4%A"), "", /malformed percent-encoding in query string/);
  invalid(() => build(getRoute, "/v1/things/x", "tags=%FF"), "", /malformed percent-encoding/);
});

test('body "*" is the whole message; the path wins over the body', () => {
  const route = routeFor({ pattern: { case: "post", value: "/v1/things/{id}:do" }, body: "*" });
  const req = build(route, "/v1/things/p:do", "", { id: "from-body", tags: ["x"], sub: { name: "s" }, status: "failed" });
  assert.equal(req.id, "p");
  assert.deepEqual(req.tags, ["x"]);
  assert.equal(req.sub?.name, "s");
  assert.equal(req.status, ConnectionStatus.FAILED);
  invalid(() => build(route, "/v1/things/p:do", "flag=true", {}), "flag", /query parameters are not accepted here/);
  invalid(() => build(route, "/v1/things/p:do", "", { nope: 1 }), "nope", /unknown field/);
  invalid(() => build(route, "/v1/things/p:do", "", "text"), "", /expected a JSON object/);
  const empty = build(route, "/v1/things/p:do");
  assert.equal(empty.id, "p");
});

test('body "field" fills that field; a nested path variable lands inside it', () => {
  const route = routeFor({ pattern: { case: "patch", value: "/v1/things/{sub.name}" }, body: "sub" });
  const req = build(route, "/v1/things/n1", "flag=true", { name: "ignored", count: 4 });
  assert.equal(req.sub?.name, "n1");
  assert.equal(req.sub?.count, 4n);
  assert.equal(req.flag, true);
  invalid(() => build(route, "/v1/things/n1", "sub.count=2", {}), "sub.count", /carried by the request body/);
  invalid(() => build(route, "/v1/things/n1", "", { colour: 1 }), "sub.colour", /unknown field/);
});

test("a route without body refuses one", () => {
  invalid(() => build(getRoute, "/v1/things/x", "", {}), "", /takes no request body/);
});
