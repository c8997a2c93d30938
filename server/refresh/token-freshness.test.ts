/** Tests of the freshness rules: expiring within the (effective) skew, backoff, proactive schedule. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { StoredSecret } from "../domain/stored-secret.ts";
import type { ConnectionRecord } from "../store/store.ts";
import { effectiveSkewMs, isExpired, isExpiring, mustRefreshOnRead, proactiveRefreshAtMs } from "./token-freshness.ts";

const SKEW = 300_000;
const token = (expiresAtSeconds?: number): StoredSecret => ({ kind: "oauth2", accessToken: "a", tokenType: "Bearer", expiresAtSeconds });

describe("token freshness", () => {
  it("an hour-long token is expiring in its last 5 minutes, expired at its expiry", () => {
    const secret = token(3_600);
    assert.equal(isExpiring(secret, 0, 3_300_000 - 1, SKEW), false);
    assert.equal(isExpiring(secret, 0, 3_300_000, SKEW), true);
    assert.equal(isExpired(secret, 3_599_999), false);
    assert.equal(isExpired(secret, 3_600_000), true);
  });

  it("a short-lived token is refreshed at half-life, not on every read", () => {
    const secret = token(60);
    assert.equal(effectiveSkewMs(SKEW, 60_000), 30_000);
    assert.equal(isExpiring(secret, 0, 29_999, SKEW), false);
    assert.equal(isExpiring(secret, 0, 30_000, SKEW), true);
  });

  it("tokens without expiry and entered fields never expire", () => {
    assert.equal(isExpiring(token(undefined), 0, Number.MAX_SAFE_INTEGER, SKEW), false);
    assert.equal(isExpiring({ kind: "fields", fields: {}, expiresAtSeconds: 1 }, 0, 10_000, SKEW), false);
    assert.equal(isExpired(token(undefined), Number.MAX_SAFE_INTEGER), false);
  });

  it("a scheduled retry in the future holds off refresh-on-read while the token works", () => {
    const current = { secret: token(3_600), version: 1, savedAtMs: 0 };
    const connection = (nextRefreshAtMs: number | null) => ({ nextRefreshAtMs }) as ConnectionRecord;
    assert.equal(mustRefreshOnRead(connection(null), current, 3_400_000, SKEW), true);
    assert.equal(mustRefreshOnRead(connection(3_300_000), current, 3_400_000, SKEW), true, "a due schedule does not hold off");
    assert.equal(mustRefreshOnRead(connection(3_500_000), current, 3_400_000, SKEW), false);
    assert.equal(mustRefreshOnRead(connection(3_700_000), current, 3_600_000, SKEW), true, "an expired token always refreshes");
  });

  it("schedules proactive refresh at expiry − skew − jitter, never in the past", () => {
    assert.equal(
      proactiveRefreshAtMs(3_600_000, 0, SKEW, () => 0),
      3_300_000,
    );
    assert.equal(
      proactiveRefreshAtMs(3_600_000, 0, SKEW, () => 0.5),
      3_225_000,
    );
    assert.equal(
      proactiveRefreshAtMs(60_000, 0, SKEW, () => 0),
      30_000,
      "short-lived: half-life",
    );
    assert.equal(
      proactiveRefreshAtMs(1_000, 5_000, SKEW, () => 0),
      5_000,
    );
  });
});
