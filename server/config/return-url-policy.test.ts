import assert from "node:assert/strict";
import { test } from "node:test";
import { InvalidArgumentError, ReturnUrlNotAllowedError } from "../domain/errors.ts";
import { createReturnUrlPolicy, DEV_RETURN_URL_ORIGINS } from "./return-url-policy.ts";

test("development default allows localhost on any port and nothing else", () => {
  const policy = createReturnUrlPolicy(DEV_RETURN_URL_ORIGINS);
  assert.equal(policy.check("http://localhost:3000/done?x=1").pathname, "/done");
  assert.ok(policy.check("http://127.0.0.1:9/"));
  assert.ok(policy.check("http://localhost/cb"));
  for (const bad of ["https://evil.example/cb", "http://localhost.evil.example/cb", "https://localhost:3000/cb"]) {
    assert.throws(() => policy.check(bad), ReturnUrlNotAllowedError, bad);
  }
});

test("exact origins match scheme, host and port", () => {
  const policy = createReturnUrlPolicy(["https://app.example.com"]);
  assert.ok(policy.check("https://app.example.com/oauth/return"));
  assert.ok(policy.check("https://app.example.com:443/x"));
  assert.throws(() => policy.check("https://app.example.com:8443/x"), ReturnUrlNotAllowedError);
  assert.throws(() => policy.check("http://app.example.com/x"), ReturnUrlNotAllowedError);
  assert.throws(() => policy.check("https://evil.app.example.com/x"), ReturnUrlNotAllowedError);
});

test("malformed, non-http and userinfo URLs are invalid arguments", () => {
  const policy = createReturnUrlPolicy(DEV_RETURN_URL_ORIGINS);
  for (const bad of [
    "",
    "/relative",
    "javascript:alert(1)",
    "ftp://localhost/x",
    "http://localhost@evil.example/",
    `http://localhost/${"a".repeat(3000)}`,
  ]) {
    assert.throws(() => policy.check(bad), InvalidArgumentError, JSON.stringify(bad).slice(0, 40));
  }
});

test("a malformed pattern is a configuration error", () => {
  assert.throws(() => createReturnUrlPolicy(["app.example.com"]), /not scheme:\/\/host/);
  assert.throws(() => createReturnUrlPolicy(["https://app.example.com/path"]), /without a path/);
});
