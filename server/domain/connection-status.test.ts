// Unit tests of the transition table and what is derived from it: every allowed move, every forbidden
// one refused with IllegalTransitionError, the predicates, and the closed set of status reasons.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  allowedFrom,
  CONNECTION_STATUSES,
  type ConnectionStatus,
  canTransition,
  checkTransition,
  endsWatch,
  IllegalTransitionError,
  isAwaitingConsent,
  isFinal,
  isStatusReason,
  isUsable,
  statusReasonOf,
} from "./connection-status.ts";

/** The allowed moves, written out independently of the table (protocol.md "Connection states"). */
const ALLOWED: ReadonlyArray<readonly [ConnectionStatus, ConnectionStatus]> = [
  ["pending", "active"],
  ["pending", "failed"],
  ["pending", "expired"],
  ["pending", "revoked"],
  ["active", "attention_required"],
  ["active", "revoked"],
  ["active", "expired"],
  ["active", "pending"],
  ["attention_required", "pending"],
  ["attention_required", "active"],
  ["attention_required", "revoked"],
  ["expired", "pending"],
  ["expired", "revoked"],
  ["failed", "pending"],
  ["failed", "revoked"],
];

const isAllowed = (from: ConnectionStatus, to: ConnectionStatus) => ALLOWED.some(([f, t]) => f === from && t === to);
const allPairs = CONNECTION_STATUSES.flatMap((from) => CONNECTION_STATUSES.map((to) => [from, to] as const));

describe("connection status transitions", () => {
  for (const [from, to] of ALLOWED) {
    test(`${from} → ${to} is allowed`, () => {
      assert.equal(canTransition(from, to), true);
      assert.doesNotThrow(() => checkTransition(from, to));
    });
  }

  for (const [from, to] of allPairs.filter(([f, t]) => !isAllowed(f, t))) {
    test(`${from} → ${to} is refused with IllegalTransitionError`, () => {
      assert.equal(canTransition(from, to), false);
      assert.throws(
        () => checkTransition(from, to),
        (err: unknown) => err instanceof IllegalTransitionError && err.from === from && err.to === to,
      );
    });
  }

  test("a list of expected starts is refused when any one is forbidden, naming that one", () => {
    assert.doesNotThrow(() => checkTransition(["attention_required", "expired", "failed"], "pending"));
    assert.throws(
      () => checkTransition(["pending", "revoked"], "active"),
      (err: unknown) => err instanceof IllegalTransitionError && err.from === "revoked",
    );
  });

  test("allowedFrom lists exactly the starts of each target", () => {
    for (const to of CONNECTION_STATUSES) {
      assert.deepEqual(
        allowedFrom(to),
        CONNECTION_STATUSES.filter((from) => isAllowed(from, to)),
        to,
      );
    }
    assert.deepEqual(allowedFrom("revoked"), ["pending", "active", "attention_required", "expired", "failed"]);
  });
});

describe("connection status predicates", () => {
  test("only active is usable, only pending awaits consent, only revoked is final", () => {
    assert.deepEqual(CONNECTION_STATUSES.filter(isUsable), ["active"]);
    assert.deepEqual(CONNECTION_STATUSES.filter(isAwaitingConsent), ["pending"]);
    assert.deepEqual(CONNECTION_STATUSES.filter(isFinal), ["revoked"]);
  });

  test("a watch ends on revoked and attention_required, and on nothing that can come back by itself", () => {
    assert.deepEqual(CONNECTION_STATUSES.filter(endsWatch), ["attention_required", "revoked"]);
  });
});

describe("status reasons", () => {
  test("the reasons written today are in the closed set", () => {
    for (const reason of [
      "invalid_grant",
      "refresh_lost_in_crash",
      "no_refresh_token",
      "consent_timeout",
      "revoked_by_api",
      "access_denied",
      "too_many_attempts",
    ]) {
      assert.equal(isStatusReason(reason), true, reason);
    }
  });

  test("a provider's code outside the set is recorded as provider_error", () => {
    assert.equal(statusReasonOf("invalid_scope"), "invalid_scope");
    assert.equal(statusReasonOf("org_policy_violation"), "provider_error");
    assert.equal(statusReasonOf(""), "provider_error");
  });
});
