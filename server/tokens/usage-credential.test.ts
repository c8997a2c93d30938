import assert from "node:assert/strict";
import { test } from "node:test";
import { toUsageCredential } from "./usage-credential.ts";

test("OAuth: only access_token, expires_at and listed extras; never refresh or id tokens", () => {
  const usage = toUsageCredential({
    connectionId: "conn_1",
    version: 3,
    strategy: { type: "oauth2" },
    secret: {
      kind: "oauth2",
      accessToken: "at",
      tokenType: "Bearer",
      refreshToken: "rt-secret",
      idToken: "id-secret",
      scope: "a b",
      expiresAtSeconds: 1_800_000_000,
      extra: { instance_url: "https://na1.example", access_token: "shadow" },
    },
  });
  assert.deepEqual(usage.credentials, { instance_url: "https://na1.example", access_token: "at", expires_at: 1_800_000_000 });
  assert.equal(usage.expiresAtSeconds, 1_800_000_000);
  assert.equal(usage.version, 3);
  assert.doesNotMatch(JSON.stringify(usage), /rt-secret|id-secret/);
});

test("entered fields pass whole; static credentials have no expiry", () => {
  const usage = toUsageCredential({
    connectionId: "conn_2",
    version: 1,
    strategy: { type: "basic_auth", usernameField: "username", passwordField: "password" },
    secret: { kind: "fields", fields: { username: "u", password: "p" } },
  });
  assert.deepEqual(usage.credentials, { username: "u", password: "p" });
  assert.equal(usage.expiresAtSeconds, null);
});
