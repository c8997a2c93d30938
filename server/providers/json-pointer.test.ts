import assert from "node:assert/strict";
import { test } from "node:test";
import { jsonPointerProblem, MAX_JSON_POINTER_LENGTH, pickScalar } from "./json-pointer.ts";

test("jsonPointerProblem: RFC 6901 pointers to a member; the whole document, bad escapes and long ones are refused", () => {
  for (const ok of ["/id", "/data/gid", "/a~1b", "/m~0n", "/items/0", "/", "/with space"].filter((p) => p !== "/")) {
    assert.equal(jsonPointerProblem(ok), undefined, ok);
  }
  assert.match(jsonPointerProblem("") ?? "", /JSON pointer/);
  assert.match(jsonPointerProblem("/") ?? "", /JSON pointer/);
  assert.match(jsonPointerProblem("id") ?? "", /JSON pointer/);
  assert.match(jsonPointerProblem("/a~2") ?? "", /~0 and ~1/);
  assert.match(jsonPointerProblem("/a~") ?? "", /~0 and ~1/);
  assert.match(jsonPointerProblem(`/${"x".repeat(MAX_JSON_POINTER_LENGTH)}`) ?? "", /at most/);
});

test("pickScalar: strings as is, numbers and booleans as JSON text, escapes and array indexes; anything else is absent", () => {
  const doc = {
    id: 4242,
    big: 1e21,
    login: "octo",
    ok: true,
    nothing: null,
    data: { gid: "12", list: ["a", "b"] },
    "a/b": "slash",
    "m~n": "tilde",
    nested: { deep: {} },
  };
  assert.equal(pickScalar(doc, "/id"), "4242");
  assert.equal(pickScalar(doc, "/big"), "1e+21");
  assert.equal(pickScalar(doc, "/login"), "octo");
  assert.equal(pickScalar(doc, "/ok"), "true");
  assert.equal(pickScalar(doc, "/data/gid"), "12");
  assert.equal(pickScalar(doc, "/data/list/1"), "b");
  assert.equal(pickScalar(doc, "/a~1b"), "slash");
  assert.equal(pickScalar(doc, "/m~0n"), "tilde");
  for (const absent of [
    "/nothing",
    "/nested",
    "/nested/deep",
    "/data/list/2",
    "/data/list/01",
    "/data/list/-",
    "/missing/x",
    "/toString",
    "/id/x",
  ]) {
    assert.equal(pickScalar(doc, absent), undefined, absent);
  }
  assert.equal(pickScalar("text", "/x"), undefined);
  assert.equal(pickScalar(doc, "bad"), undefined, "an invalid pointer picks nothing");
});
