/**
 * `npm run demo -- --auto` works on a fresh checkout: Nexus and the bundled OpenID Provider start,
 * consent completes, and the token payload is printed.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";

test("the demo completes consent and prints the token payload", async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ["examples/demo.ts", "--auto"], { timeout: 60_000 });
  assert.match(stdout, /status=success/);
  // The seed's {"status": …}, plus who connected (the id_token's sub).
  assert.match(stdout, /\{"status":"active","account":\{"id":"alice"\}\}/);
  const payload = JSON.parse(/\/v1\/token\/\S+\n(\{[\s\S]*?\n\})/.exec(stdout)?.[1] ?? "{}") as Record<string, unknown>;
  assert.deepEqual(payload.strategy, { type: "oauth2" });
  assert.equal(typeof (payload.credentials as Record<string, unknown>).access_token, "string");
  assert.equal(typeof payload.expires_at, "number");
  assert.doesNotMatch(stdout, /refresh_token|id_token/);
});
