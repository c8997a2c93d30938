import assert from "node:assert/strict";
import { test } from "node:test";
import { InvalidArgumentError } from "../domain/errors.ts";
import type { ProviderProfile } from "../providers/profile.ts";
import { compileCredentialForm } from "./credential-form.ts";

function profile(overrides: Partial<ProviderProfile>): ProviderProfile {
  return {
    name: "p",
    displayName: "P",
    category: "x",
    authType: "api_key",
    strategy: { type: "header", headerName: "Authorization", credentialField: "api_key", valuePrefix: "Bearer " },
    urlParams: [],
    ...overrides,
  };
}

test("without a schema, the strategy's fields become required inputs; only the user name is visible", () => {
  const form = compileCredentialForm(
    profile({ authType: "basic_auth", strategy: { type: "basic_auth", usernameField: "username", passwordField: "password" } }),
  );
  assert.deepEqual(
    form.fields.map((f) => [f.name, f.label, f.isSecret, f.isRequired]),
    [
      ["username", "Username", false, true],
      ["password", "Password", true, true],
    ],
  );
  assert.deepEqual(form.read(new URLSearchParams({ username: "ann", password: " p w " })), {
    ok: true,
    fields: { username: "ann", password: " p w " },
  });
});

test("reading keeps values exactly, drops empty optional inputs and unknown names, and explains failures", () => {
  const form = compileCredentialForm(
    profile({
      credentialSchema: {
        type: "object",
        properties: {
          api_key: { type: "string", format: "password", minLength: 8 },
          site: { type: "string", format: "uri" },
          note: { type: "string", maxLength: 3, "x-order": 2 },
        },
        required: ["api_key"],
      },
    }),
  );
  assert.equal(form.fields[0]?.isSecret, true, "format password is secret");
  assert.deepEqual(form.read(new URLSearchParams({ api_key: "  12345678", site: "", note: "", extra: "x" })), {
    ok: true,
    fields: { api_key: "  12345678" },
  });
  const failed = form.read(new URLSearchParams({ api_key: "short", site: "not a url", note: "toolong" }));
  assert.equal(failed.ok, false);
  assert.deepEqual(!failed.ok && failed.fieldErrors, {
    api_key: "Use at least 8 characters.",
    site: "This is not a valid uri.",
    note: "Use at most 3 characters.",
  });
  const missing = form.read(new URLSearchParams({ api_key: "" }));
  assert.deepEqual(!missing.ok && missing.fieldErrors, { api_key: "This field is required." });
});

test("HTML patterns accept what the JSON Schema pattern accepts", () => {
  const form = compileCredentialForm(
    profile({
      credentialSchema: {
        type: "object",
        properties: {
          api_key: { type: "string", pattern: "^sk_[a-z]+$" },
          a: { type: "string", pattern: "abc" },
          b: { type: "string", pattern: "^x|y" },
          c: { type: "string", pattern: "[\\w-]+" },
        },
        required: ["api_key"],
      },
    }),
  );
  const patterns = Object.fromEntries(form.fields.map((f) => [f.name, f.htmlPattern]));
  assert.deepEqual(patterns, {
    api_key: "^sk_[a-z]+$",
    a: "[\\s\\S]*abc[\\s\\S]*",
    b: "[\\s\\S]*(?:^x|y)[\\s\\S]*",
    c: null, // not valid with the v flag browsers use: left to the server
  });
  for (const [value, schemaOk] of [
    ["zabcz", true],
    ["ab", false],
  ] as const) {
    assert.equal(new RegExp(`^(?:${patterns.a})$`, "v").test(value), schemaOk);
  }
  assert.equal(new RegExp(`^(?:${patterns.b})$`, "v").test("zzy"), true, "the unanchored branch");
});

test("unusable schemas are refused with InvalidArgumentError", () => {
  const cases: Record<string, unknown>[] = [
    { type: "array" },
    { type: "object", properties: { api_key: { type: "integer" } }, required: ["api_key"] },
    { type: "object", properties: { api_key: { type: "string" } } },
    { type: "object", properties: { token: { type: "string" } }, required: ["token"] },
    { type: "object", properties: { api_key: { type: "string", maxlength: 5 } }, required: ["api_key"] },
    { type: "object", properties: { api_key: { type: "string" } }, required: ["api_key", "ghost"] },
    { type: "object", properties: { api_key: { type: "string" }, _nexus_action: { type: "string" } }, required: ["api_key"] },
  ];
  for (const credentialSchema of cases) {
    assert.throws(() => compileCredentialForm(profile({ credentialSchema })), InvalidArgumentError, JSON.stringify(credentialSchema));
  }
});
