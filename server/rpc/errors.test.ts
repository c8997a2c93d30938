import assert from "node:assert/strict";
import { test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema, ErrorReason } from "../../gen/nexus/v1/errors_pb.ts";
import { reasonForCode, toConnectError } from "./errors.ts";

test("every code has a real reason: UNSPECIFIED is never sent", () => {
  const codes = Object.values(Code).filter((c): c is Code => typeof c === "number");
  for (const code of codes) assert.notEqual(reasonForCode(code), ErrorReason.UNSPECIFIED, Code[code]);
  const bare = toConnectError(new ConnectError("not now", Code.FailedPrecondition)).error;
  assert.equal(bare.findDetails(ErrorInfoSchema)[0]?.reason, ErrorReason.FAILED_PRECONDITION);
});
