/**
 * Tests of the shared keyset-pagination pieces: size rules, token round trips, and rejection of
 * tokens that are malformed or belong to another list.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../domain/errors.ts";
import { createPageToken, PAGE_SPECS, parsePageRequest, toPage } from "./page-request.ts";

const connections = PAGE_SPECS.connections;

function assertInvalid(fn: () => unknown, field: string): void {
  assert.throws(fn, (error: unknown) => error instanceof InvalidArgumentError && error.field === field);
}

describe("parsePageRequest", () => {
  it("uses the default size for absent or zero, lowers oversized requests to the maximum", () => {
    assert.deepEqual(parsePageRequest({}, connections), { size: 50, after: null });
    assert.equal(parsePageRequest({ pageSize: 0 }, connections).size, 50);
    assert.equal(parsePageRequest({ pageSize: 7 }, connections).size, 7);
    assert.equal(parsePageRequest({ pageSize: 501 }, connections).size, 500);
    assert.equal(parsePageRequest({}, PAGE_SPECS.auditEvents).size, 100);
    assert.equal(parsePageRequest({ pageSize: 5000 }, PAGE_SPECS.auditEvents).size, 1000);
  });

  it("rejects negative and fractional sizes", () => {
    for (const pageSize of [-1, 0.5, Number.POSITIVE_INFINITY, Number.NaN]) {
      assertInvalid(() => parsePageRequest({ pageSize }, connections), "page_size");
    }
  });

  it("round-trips a cursor through its token", () => {
    const token = createPageToken(connections, [1_700_000_000_000, "conn_abc"]);
    assert.match(token, /^[A-Za-z0-9_-]+$/);
    assert.deepEqual(parsePageRequest({ pageToken: token }, connections).after, [1_700_000_000_000, "conn_abc"]);
    assert.equal(parsePageRequest({ pageToken: "" }, connections).after, null);
  });

  it("rejects malformed tokens and tokens of another list", () => {
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const bad = [
      "%%%",
      encode({}),
      encode(["connections", 1]),
      encode(["connections", "1", "conn_a"]),
      encode(["connections", 1.5, "conn_a"]),
      encode(["api_keys", 1, "key_a"]),
      createPageToken(PAGE_SPECS.providers, ["google"]),
      Buffer.from("not json").toString("base64url"),
      "A".repeat(3000),
    ];
    for (const pageToken of bad) assertInvalid(() => parsePageRequest({ pageToken }, connections), "page_token");
  });
});

describe("toPage", () => {
  const spec = PAGE_SPECS.auditEvents;
  const rows = [{ id: 9 }, { id: 8 }, { id: 7 }];

  it("gives a token only when the extra row shows there is more", () => {
    const more = toPage(
      rows,
      2,
      spec,
      (r) => r,
      (r) => [r.id],
    );
    assert.deepEqual(more.items, [{ id: 9 }, { id: 8 }]);
    assert.deepEqual(parsePageRequest({ pageToken: more.nextPageToken }, spec).after, [8]);
    const last = toPage(
      rows,
      3,
      spec,
      (r) => r,
      (r) => [r.id],
    );
    assert.equal(last.items.length, 3);
    assert.equal(last.nextPageToken, "");
  });
});
