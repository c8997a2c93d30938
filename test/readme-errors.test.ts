/**
 * The README's error-reason table lists every reason of nexus.v1.ErrorReason and nothing else, in
 * the spelling REST really sends: each row's `reason` is what the REST renderer makes of the enum
 * value (prefix stripped, lower case), and the enum name Connect/gRPC carry follows by the rule.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { ErrorInfoSchema, type ErrorReason, ErrorReasonSchema } from "../gen/nexus/v1/errors_pb.ts";
import { toRestJson } from "../server/rest/rest-json.ts";

const HEADER = "| `reason` (REST) |";

function readmeReasons(): string[] {
  const lines = readFileSync(new URL("../README.md", import.meta.url), "utf8").split("\n");
  const start = lines.findIndex((line) => line.startsWith(HEADER));
  assert.ok(start >= 0, `README has the table starting with ${HEADER}`);
  const rows = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    const cell = /^\| `([a-z0-9_]+)` \|/.exec(line);
    assert.ok(cell, `row names a reason in backticks: ${line}`);
    rows.push(cell[1]!);
  }
  return rows;
}

test("README's error-reason table and the ErrorReason enum list the same reasons, in REST's spelling", () => {
  const documented = readmeReasons();
  assert.equal(new Set(documented).size, documented.length, "no reason listed twice");
  const rendered = new Map<string, string>();
  for (const value of ErrorReasonSchema.values) {
    const json = toRestJson(ErrorInfoSchema, create(ErrorInfoSchema, { reason: value.number as ErrorReason }), {}) as { reason?: string };
    // An unset (zero) enum is omitted from REST JSON; the rule still names it.
    const rest = json.reason ?? value.name.replace(/^ERROR_REASON_/, "").toLowerCase();
    assert.equal(rest, value.name.replace(/^ERROR_REASON_/, "").toLowerCase(), `REST spelling of ${value.name} follows the rule`);
    rendered.set(rest, value.name);
  }
  const missing = [...rendered.keys()].filter((r) => !documented.includes(r));
  const unknown = documented.filter((r) => !rendered.has(r));
  assert.deepEqual(missing, [], "every enum value is in the README");
  assert.deepEqual(unknown, [], "every README reason is an enum value");
});
