// The client's error mapping at its seam: ConnectErrors with and without Nexus's ErrorInfo detail
// become the typed errors (cause kept), the predicates read reasons and codes (never message text),
// and the messages name ids, never values.
import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema, ErrorReason } from "../gen/nexus/v1/errors_pb.ts";
import { ConnectionStatus } from "../gen/nexus/v1/status_pb.ts";
import {
  AttentionRequiredError,
  ConnectionRevokedError,
  errorInfo,
  isAttentionRequired,
  isNotFound,
  isRevoked,
  isTransient,
  NexusUnavailableError,
  StrategyError,
  toClientError,
} from "./errors.ts";

/** A ConnectError as Nexus sends it: code, message and the ErrorInfo detail. */
function nexusError(
  code: Code,
  reason: ErrorReason,
  status: ConnectionStatus = ConnectionStatus.UNSPECIFIED,
  message = "refused",
): ConnectError {
  return new ConnectError(message, code, undefined, [{ desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason, status }) }]);
}

test("toClientError: attention and revocation become typed errors keeping the ConnectError as cause", () => {
  const attention = nexusError(Code.FailedPrecondition, ErrorReason.CONNECTION_NEEDS_ATTENTION);
  const mapped = toClientError(attention, "conn_1");
  assert.ok(mapped instanceof AttentionRequiredError);
  assert.equal(mapped.connectionId, "conn_1");
  assert.equal(mapped.cause, attention);
  const revoked = toClientError(nexusError(Code.FailedPrecondition, ErrorReason.CONNECTION_REVOKED), "conn_2");
  assert.ok(revoked instanceof ConnectionRevokedError);
  assert.equal(revoked.connectionId, "conn_2");
});

test("toClientError: the status in ErrorInfo is enough, whatever the reason", () => {
  const byStatus = nexusError(Code.FailedPrecondition, ErrorReason.FAILED_PRECONDITION, ConnectionStatus.ATTENTION_REQUIRED);
  assert.ok(toClientError(byStatus, "c") instanceof AttentionRequiredError);
  assert.ok(isRevoked(nexusError(Code.FailedPrecondition, ErrorReason.FAILED_PRECONDITION, ConnectionStatus.REVOKED)));
});

test("toClientError: Unavailable and DeadlineExceeded mean Nexus is unavailable; other codes stay ConnectErrors", () => {
  for (const code of [Code.Unavailable, Code.DeadlineExceeded]) {
    const mapped = toClientError(new ConnectError("down", code), "c");
    assert.ok(mapped instanceof NexusUnavailableError, Code[code]);
  }
  const notFound = new ConnectError("no such connection", Code.NotFound);
  assert.equal(toClientError(notFound, "c"), notFound);
  const typed = new ConnectionRevokedError("c", "revoked_by_api");
  assert.equal(toClientError(typed, "c"), typed, "typed errors pass through");
  const plain = toClientError(new Error("socket hang up"), "c");
  assert.ok(plain instanceof ConnectError);
  assert.equal(plain.code, Code.Unknown);
});

test("isTransient: retry what passes, never what fails the same way again", () => {
  const cases: [unknown, boolean][] = [
    [new ConnectError("x", Code.Unavailable), true],
    [new ConnectError("x", Code.DeadlineExceeded), true],
    [new ConnectError("x", Code.ResourceExhausted), true],
    [nexusError(Code.ResourceExhausted, ErrorReason.TOO_LARGE), false],
    [new ConnectError("x", Code.Aborted), true],
    [new ConnectError("x", Code.Canceled), true],
    [new ConnectError("x", Code.Internal), true],
    [new ConnectError("x", Code.InvalidArgument), false],
    [new ConnectError("x", Code.NotFound), false],
    [new ConnectError("x", Code.Unauthenticated), false],
    [new ConnectError("x", Code.PermissionDenied), false],
    [new ConnectError("x", Code.Unimplemented), false],
    [nexusError(Code.FailedPrecondition, ErrorReason.CONNECTION_NEEDS_ATTENTION), false],
    [new NexusUnavailableError("c"), true],
    [new AttentionRequiredError("c"), false],
  ];
  for (const [err, expected] of cases) assert.equal(isTransient(err), expected, String(err));
});

test("isNotFound and isAttentionRequired read codes and reasons, never the message", () => {
  assert.equal(isNotFound(new ConnectError("x", Code.NotFound)), true);
  assert.equal(isNotFound(nexusError(Code.Unknown, ErrorReason.PROVIDER_NOT_FOUND)), true);
  assert.equal(isNotFound(new ConnectError("connection not found", Code.InvalidArgument)), false);
  assert.equal(isNotFound(new Error("not found")), false);
  assert.equal(isAttentionRequired(new ConnectError("needs attention", Code.FailedPrecondition)), false);
  assert.equal(isAttentionRequired(new AttentionRequiredError("c")), true);
  assert.equal(errorInfo(new Error("x")), undefined);
  assert.equal(errorInfo(nexusError(Code.NotFound, ErrorReason.CONNECTION_NOT_FOUND))?.reason, ErrorReason.CONNECTION_NOT_FOUND);
});

test("messages name ids, reasons and fields", () => {
  assert.equal(
    new AttentionRequiredError("conn_1", "invalid_grant").message,
    "connection conn_1 needs attention: a person must consent again (invalid_grant)",
  );
  assert.equal(new ConnectionRevokedError("conn_1").message, "connection conn_1 was revoked");
  const strategy = new StrategyError("header", 'credential field "api_key" is missing', "api_key");
  assert.equal(strategy.field, "api_key");
  assert.equal(strategy.message, 'header: credential field "api_key" is missing');
});
