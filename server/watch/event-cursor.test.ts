import assert from "node:assert/strict";
import { test } from "node:test";
import { InvalidArgumentError } from "../domain/errors.ts";
import { decodeEventCursor, encodeEventCursor } from "./event-cursor.ts";

test("cursors round-trip, and only canonical cursors of ours decode", () => {
  for (const seq of [0, 1, 42, 2 ** 53 - 1]) assert.equal(decodeEventCursor(encodeEventCursor(seq)), seq);
  assert.match(encodeEventCursor(7), /^[A-Za-z0-9_-]+$/, "URL-safe");
  const bad = [
    "",
    "not-a-cursor",
    Buffer.from("cev1:-1").toString("base64url"),
    Buffer.from("cev1:01").toString("base64url"),
    Buffer.from("cev1:1.5").toString("base64url"),
    Buffer.from("cev2:1").toString("base64url"),
    Buffer.from("cev1:99999999999999999").toString("base64url"),
    `${encodeEventCursor(1)}=`,
    "x".repeat(200),
  ];
  for (const cursor of bad) {
    assert.throws(
      () => decodeEventCursor(cursor),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === "after_cursor" && !e.message.includes(cursor || "\u0000"),
      cursor,
    );
  }
});
