import assert from "node:assert/strict";
import { after, afterEach, test } from "node:test";
import { Code, ConnectError, createHandlerContext } from "@connectrpc/connect";
import { TokenService } from "../../gen/nexus/v1/tokens_pb.ts";
import { quietAbortGate } from "./universal-request.ts";

const originalAbort = AbortController.prototype.abort;
/** The reasons AbortController.abort received, as passed (undefined: Node builds a DOMException). */
let passed: unknown[] = [];
AbortController.prototype.abort = function (this: AbortController, ...args: unknown[]) {
  passed.push(args[0]);
  return originalAbort.apply(this, args as [unknown]);
};
afterEach(() => {
  passed = [];
});
after(() => {
  AbortController.prototype.abort = originalAbort;
});

function contextOf(requestSignal: AbortSignal) {
  const method = TokenService.method.getToken;
  return createHandlerContext({
    service: TokenService,
    method,
    protocolName: "connect",
    requestMethod: "POST",
    url: "http://localhost/nexus.v1.TokenService/GetToken",
    requestSignal,
  });
}

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

test("before the end, abort() without a reason still aborts with an AbortError, as connect-es does", () => {
  const context = contextOf(new AbortController().signal);
  quietAbortGate(context);
  context.abort();
  assert.equal(context.signal.aborted, true);
  assert.equal((context.signal.reason as DOMException).name, "AbortError");
});

test("a given reason passes through unchanged", () => {
  const context = contextOf(new AbortController().signal);
  quietAbortGate(context);
  const reason = new ConnectError("boom", Code.Internal);
  context.abort(reason);
  assert.equal(context.signal.reason, reason);
});
