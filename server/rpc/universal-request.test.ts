import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, createHandlerContext } from "@connectrpc/connect";
import { TokenService } from "../../gen/nexus/v1/tokens_pb.ts";
import { quietAbortGate } from "./universal-request.ts";

const originalAbort = AbortController.prototype.abort;
/** The reasons AbortController.abort received, as passed (undefined: Node builds a DOMException). */
let passed: unknown[] = [];

function contextOf(requestSignal: AbortSignal, method: DescMethod = TokenService.method.getToken) {
  return createHandlerContext({
    service: TokenService,
    method,
    protocolName: "connect",
    requestMethod: "POST",
    url: "http://localhost/nexus.v1.TokenService/GetToken",
    requestSignal,
  });
}

describe("quietAbortGate", () => {
  // Spies on AbortController.abort only while this file's tests run (the suite shares one process).
  before(() => {
    AbortController.prototype.abort = function (this: AbortController, ...args: unknown[]) {
      passed.push(args[0]);
      return originalAbort.apply(this, args as [unknown]);
    };
  });
  after(() => {
    AbortController.prototype.abort = originalAbort;
  });

  test("an abort() without a reason after the call has ended reuses the signal's reason (no DOMException)", () => {
    const request = new AbortController();
    const context = contextOf(request.signal);
    quietAbortGate(context);
    const settled = new ConnectError("the call has ended", Code.Canceled);
    request.abort(settled);
    assert.equal(context.signal.reason, settled);
    passed = [];
    context.abort();
    assert.deepEqual(passed, [settled], "AbortController.abort got the signal's reason, not undefined");
    assert.equal(context.signal.reason, settled);
  });

  test("a unary call's abort() without a reason ends with the shared Canceled reason, not a DOMException", () => {
    const context = contextOf(new AbortController().signal);
    quietAbortGate(context);
    // Reset right before: the test runner aborts its own controllers (without a reason) between tests.
    passed = [];
    context.abort();
    assert.equal(context.signal.aborted, true);
    const reason = context.signal.reason as unknown;
    assert.ok(reason instanceof ConnectError && reason.code === Code.Canceled, String(reason));
    assert.ok(
      passed.every((r) => r !== undefined),
      "AbortController.abort always got a reason",
    );
    const other = contextOf(new AbortController().signal);
    quietAbortGate(other);
    other.abort();
    assert.equal(other.signal.reason, reason, "one shared reason, built once");
  });

  test("a streaming call keeps connect-es's own abort (an AbortError)", () => {
    const context = contextOf(new AbortController().signal, TokenService.method.watchCredentials);
    quietAbortGate(context);
    context.abort();
    assert.equal((context.signal.reason as DOMException).name, "AbortError");
  });

  test("a given reason passes through unchanged", () => {
    const context = contextOf(new AbortController().signal);
    quietAbortGate(context);
    const reason = new ConnectError("boom", Code.Internal);
    context.abort(reason);
    assert.equal(context.signal.reason, reason);
  });
});
