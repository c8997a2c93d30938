import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { createLogger, redactUrl } from "./logger.ts";

test("secret-bearing fields are redacted wherever a careless log line puts them", () => {
  const lines: string[] = [];
  const logger = createLogger({
    level: "info",
    destination: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }),
  });
  const values = [
    "v-authorization",
    "v-x-api-key",
    "v-token",
    "v-access",
    "v-refresh",
    "v-admin",
    "v-metrics",
    "v-keys",
    "v-secret",
    "v-state",
    "v-hash",
  ];
  logger.info({
    authorization: "v-authorization",
    headers: { "x-api-key": "v-x-api-key", authorization: "v-authorization" },
    req: { headers: { "x-api-key": "v-x-api-key" } },
    token: "v-token",
    tokens: { accessToken: "v-access", refreshToken: "v-refresh" },
    config: { adminApiKey: "v-admin", metricsToken: "v-metrics", encryptionKeys: "v-keys" },
    created: { secret: "v-secret", secretHash: "v-hash" },
    state: "v-state",
    keyId: "key_visible",
  });
  const out = lines.join("");
  for (const value of values) assert.ok(!out.includes(value), value);
  assert.match(out, /key_visible/, "ids stay visible");
  assert.equal(redactUrl("/oauth/callback?code=abc&state=def"), "/oauth/callback?[redacted]");
});
