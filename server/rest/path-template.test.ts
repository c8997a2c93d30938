import assert from "node:assert/strict";
import { test } from "node:test";
import { compilePathTemplate, PathTemplateError } from "./path-template.ts";

const bindings = (template: string, path: string) => {
  const m = compilePathTemplate(template).match(path);
  return m === undefined ? undefined : Object.fromEntries(m);
};

test("literal templates match exactly", () => {
  assert.deepEqual(bindings("/v1/request-connection", "/v1/request-connection"), {});
  assert.equal(bindings("/v1/request-connection", "/v1/request-connection/"), undefined);
  assert.equal(bindings("/v1/request-connection", "/v1/request"), undefined);
  assert.equal(bindings("/v1/connections", "/v1/connections/x"), undefined);
  // A literal may be percent-encoded by the client.
  assert.deepEqual(bindings("/v1/connections", "/v1/%63onnections"), {});
});

test("single-segment variables bind one non-empty segment, fully decoded", () => {
  assert.deepEqual(bindings("/v1/check-connection/{connection_id}", "/v1/check-connection/abc"), { connection_id: "abc" });
  assert.deepEqual(bindings("/v1/token/{connection_id}", "/v1/token/a%2Fb%20c%C3%A9"), { connection_id: "a/b cé" });
  assert.equal(bindings("/v1/token/{connection_id}", "/v1/token/"), undefined);
  assert.equal(bindings("/v1/token/{connection_id}", "/v1/token/a/b"), undefined);
  assert.deepEqual(bindings("/v1/providers/{provider.name}", "/v1/providers/google"), { "provider.name": "google" });
});

test("custom verbs are matched on the raw path", () => {
  const t = compilePathTemplate("/v1/connections/{connection_id}:revoke");
  assert.equal(t.verb, "revoke");
  assert.deepEqual(Object.fromEntries(t.match("/v1/connections/c1:revoke") ?? []), { connection_id: "c1" });
  assert.deepEqual(Object.fromEntries(t.match("/v1/connections/a:b:revoke") ?? []), { connection_id: "a:b" });
  assert.equal(t.match("/v1/connections/c1"), undefined);
  assert.equal(t.match("/v1/connections/c1%3Arevoke"), undefined);
  assert.equal(t.match("/v1/connections/:revoke"), undefined);
  // Without a verb in the template, a ':' is part of the variable.
  assert.deepEqual(bindings("/v1/connections/{connection_id}", "/v1/connections/c1:revoke"), { connection_id: "c1:revoke" });
});

test("multi-segment variables and wildcards", () => {
  assert.deepEqual(bindings("/v1/{name=projects/*/docs/*}", "/v1/projects/p1/docs/d%2F1"), { name: "projects/p1/docs/d%2F1" });
  assert.deepEqual(bindings("/v1/{name=files/**}", "/v1/files/a/b%20c/d"), { name: "files/a/b c/d" });
  assert.deepEqual(bindings("/v1/{name=files/**}", "/v1/files"), { name: "files" });
  assert.deepEqual(bindings("/v1/{path=**}:get", "/v1/x/y%2fz:get"), { path: "x/y%2fz" });
  assert.deepEqual(bindings("/v1/*/items/{id}", "/v1/any/items/7"), { id: "7" });
  assert.equal(bindings("/v1/*/items/{id}", "/v1//items/7"), undefined);
  assert.deepEqual(bindings("/v1/**", "/v1/a/b/c"), {});
});

test("malformed percent-encoding in a variable throws URIError; in a literal it just does not match", () => {
  const t = compilePathTemplate("/v1/token/{connection_id}");
  assert.throws(() => t.match("/v1/token/%zz"), URIError);
  assert.throws(() => t.match("/v1/token/%ff%fe"), URIError); // not UTF-8
  assert.equal(compilePathTemplate("/v1/token").match("/v1/%zz"), undefined);
});

test("rank puts verbs and literals before variables and deep wildcards", () => {
  const ranks = ["/v1/{name=**}", "/v1/x/{id}", "/v1/x/y", "/v1/x/{id}:do"].map((t) => compilePathTemplate(t).rank);
  const sorted = [...ranks].sort();
  assert.deepEqual(
    sorted.map((r) => ranks.indexOf(r)),
    [3, 2, 1, 0],
  );
});

test("templates outside the grammar are rejected with the offset", () => {
  const cases: [string, RegExp][] = [
    ["v1/x", /must start with '\/'/],
    ["/", /expected a segment/],
    ["/v1//x", /expected a segment/],
    ["/v1/{a.}", /field path/],
    ["/v1/{1a}", /field path/],
    ["/v1/{a", /expected '}'/],
    ["/v1/{a=b/{c}}", /variables cannot nest/],
    ["/v1/**/x", /'\*\*' must be the last segment/],
    ["/v1/{a}/{a}", /appears twice/],
    ["/v1/x:", /empty verb/],
    ["/v1/x:do/y", /unexpected '\/'/],
    ["/v1/x?y", /unexpected '\?'/],
    ["/v1/%41", /expected a segment but found '%'/],
  ];
  for (const [template, reason] of cases) {
    assert.throws(
      () => compilePathTemplate(template),
      (err: unknown) => err instanceof PathTemplateError && err.template === template && reason.test(err.message),
      template,
    );
  }
  const err = (() => {
    try {
      compilePathTemplate("/v1/{a");
    } catch (e) {
      return e;
    }
  })();
  assert.ok(err instanceof PathTemplateError);
  assert.equal(err.position, 6);
});
