import assert from "node:assert/strict";
import { test } from "node:test";
import { oauthSettings } from "../../test/support/oauth-settings.ts";
import { InvalidArgumentError } from "../domain/errors.ts";
import type { ProviderProfile } from "./profile.ts";
import { applyUpdateMask } from "./update-mask.ts";

const current: ProviderProfile = {
  name: "acme",
  displayName: "Acme",
  category: "crm",
  authType: "oauth2",
  oauth: oauthSettings({
    clientId: "old-client",
    defaultScopes: ["a"],
    clientAuthMethod: "client_secret_basic",
    extraTokenFields: ["instance_url"],
  }),
  strategy: { type: "oauth2" },
  urlParams: [],
};

test("masked fields take the patch's value, the others are kept", () => {
  const { merged, secret } = applyUpdateMask(
    current,
    {
      name: "acme",
      displayName: "Acme Inc",
      category: "ignored",
      authType: "oauth2",
      strategy: { type: "oauth2" },
      oauth: { defaultScopes: ["a", "b"] },
    },
    ["display_name", "oauth.default_scopes"],
    undefined,
  );
  assert.equal(merged.displayName, "Acme Inc");
  assert.equal(merged.category, "crm");
  assert.deepEqual(merged.oauth?.defaultScopes, ["a", "b"]);
  assert.equal(merged.oauth?.clientId, "old-client");
  assert.equal(secret, "keep");
  assert.deepEqual(current.oauth?.defaultScopes, ["a"], "the current profile is not mutated");
});

test("a masked field absent from the patch is cleared", () => {
  const { merged } = applyUpdateMask(
    current,
    { name: "acme", authType: "oauth2", strategy: { type: "oauth2" } },
    ["category", "oauth.pkce"],
    undefined,
  );
  assert.equal(merged.category, undefined);
  assert.equal(merged.oauth?.pkce, undefined);
});

test("client secret: set, remove, or keep under a whole-oauth replacement", () => {
  const patch = { name: "acme", authType: "oauth2" as const, strategy: { type: "oauth2" as const }, oauth: { clientId: "new" } };
  assert.equal(applyUpdateMask(current, patch, ["oauth.client_secret"], "s3cret").secret, "set");
  assert.equal(applyUpdateMask(current, patch, ["oauth.client_secret"], "").secret, "remove");
  const whole = applyUpdateMask(current, patch, ["oauth"], undefined);
  assert.equal(whole.secret, "keep");
  assert.equal(whole.merged.oauth?.clientId, "new");
  assert.equal(whole.merged.oauth?.tokenEndpoint, undefined);
  assert.equal(whole.merged.oauth?.extraTokenFields, undefined, "a whole-oauth replacement replaces every OAuth field");
  assert.equal(applyUpdateMask(current, patch, ["oauth"], "s3cret").secret, "set");
});

test("strategy sub-paths replace the whole strategy; output-only paths are ignored", () => {
  const { merged } = applyUpdateMask(
    current,
    { name: "acme", authType: "oauth2", strategy: { type: "header", headerName: "X-Token" } },
    ["strategy.header.header_name", "create_time", "oauth.has_client_secret"],
    undefined,
  );
  assert.deepEqual(merged.strategy, { type: "header", headerName: "X-Token" });
});

test("unknown paths and renames are invalid arguments", () => {
  const patch = { name: "other", authType: "oauth2" as const, strategy: { type: "oauth2" as const } };
  assert.throws(
    () => applyUpdateMask(current, patch, ["colour"], undefined),
    (err: unknown) => err instanceof InvalidArgumentError && err.field === "update_mask",
  );
  assert.throws(
    () => applyUpdateMask(current, patch, ["oauth.colour"], undefined),
    (err: unknown) => err instanceof InvalidArgumentError && err.field === "update_mask",
  );
  assert.throws(
    () => applyUpdateMask(current, patch, ["name"], undefined),
    (err: unknown) => err instanceof InvalidArgumentError && err.field === "provider.name",
  );
  assert.doesNotThrow(() => applyUpdateMask(current, { ...patch, name: "acme" }, ["name"], undefined));
});
