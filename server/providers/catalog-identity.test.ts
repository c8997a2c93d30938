import assert from "node:assert/strict";
import { test } from "node:test";
import { loadProviderCatalog } from "./catalog.ts";

test("catalog presets say how to learn the account: OIDC issuer or userinfo, or an account_lookup", () => {
  const catalog = loadProviderCatalog();
  const lookups: Record<string, string> = {
    github: "https://api.github.com/user",
    gitlab: "https://gitlab.com/api/v4/user",
    microsoft: "https://graph.microsoft.com/v1.0/me",
    slack: "https://slack.com/api/auth.test",
    atlassian: "https://api.atlassian.com/me",
  };
  for (const [name, url] of Object.entries(lookups)) {
    const preset = catalog.get(name);
    assert.equal(preset?.accountLookup?.url, url, name);
    assert.match(preset?.accountLookup?.idPointer ?? "", /^\//, name);
  }
  // Google needs none: its issuer's id_token and userinfo say.
  assert.equal(catalog.get("google")?.oauth?.issuer, "https://accounts.google.com");
  for (const preset of catalog.list()) {
    if (preset.authType !== "oauth2") continue;
    const says = preset.oauth?.issuer !== undefined || preset.oauth?.userinfoEndpoint !== undefined || preset.accountLookup !== undefined;
    // Providers whose only "who am I" is GraphQL, a POST or a token in the path are listed here.
    const without = ["notion", "linear", "hubspot", "dropbox", "quickbooks", "mailchimp", "monday", "todoist"];
    assert.equal(says || without.includes(preset.name), true, `${preset.name} has no way to learn the account`);
  }
});

test("catalog presets keep the provider values later calls need", () => {
  const catalog = loadProviderCatalog();
  assert.deepEqual(catalog.get("quickbooks")?.connectionExtras, [{ name: "realm_id", callbackParam: "realmId" }]);
  assert.deepEqual(catalog.get("slack")?.connectionExtras?.[0], { name: "team_id", tokenPointer: "/team/id" });
  assert.deepEqual(catalog.get("salesforce")?.connectionExtras, [{ name: "instance_url", tokenPointer: "/instance_url" }]);
});
