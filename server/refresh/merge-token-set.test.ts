/** Tests of merging a refresh response into the stored token set (merge, not replace). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { OAuthTokenSet } from "../domain/stored-secret.ts";
import { mergeTokenSet } from "./merge-token-set.ts";

const stored: OAuthTokenSet = {
  kind: "oauth2",
  accessToken: "at-old",
  tokenType: "Bearer",
  refreshToken: "rt-old",
  idToken: "idt-old",
  scope: "a b",
  expiresAtSeconds: 100,
  extra: { instance_url: "https://old", region: "eu" },
};

describe("mergeTokenSet", () => {
  it("keeps refresh token, id_token and scope the provider left out (Google: no rotation)", () => {
    const { tokens, isRotated } = mergeTokenSet(stored, { accessToken: "at-new", tokenType: "Bearer", expiresAtSeconds: 200 });
    assert.deepEqual(tokens, { ...stored, accessToken: "at-new", expiresAtSeconds: 200 });
    assert.equal(isRotated, false);
  });

  it("takes a rotated refresh token and reports the rotation (Xero, QuickBooks)", () => {
    const { tokens, isRotated } = mergeTokenSet(stored, { accessToken: "at-new", tokenType: "Bearer", refreshToken: "rt-new" });
    assert.equal(tokens.refreshToken, "rt-new");
    assert.equal(isRotated, true);
    assert.equal(mergeTokenSet(stored, { accessToken: "x", tokenType: "Bearer", refreshToken: "rt-old" }).isRotated, false);
  });

  it("drops the old expiry when the response has none, and merges extra fields", () => {
    const { tokens } = mergeTokenSet(stored, {
      accessToken: "at-new",
      tokenType: "DPoP",
      scope: "a",
      extra: { instance_url: "https://new" },
    });
    assert.equal(tokens.expiresAtSeconds, undefined);
    assert.equal(tokens.tokenType, "DPoP");
    assert.equal(tokens.scope, "a");
    assert.deepEqual(tokens.extra, { instance_url: "https://new", region: "eu" });
  });

  it("adds no empty members to a minimal set", () => {
    const minimal: OAuthTokenSet = { kind: "oauth2", accessToken: "a", tokenType: "Bearer" };
    assert.deepEqual(mergeTokenSet(minimal, { accessToken: "b", tokenType: "Bearer" }).tokens, {
      kind: "oauth2",
      accessToken: "b",
      tokenType: "Bearer",
    });
  });
});
