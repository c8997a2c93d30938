import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  createLazyProviderCatalog,
  createProviderCatalog,
  loadProviderCatalog,
  loadProviderCatalogGradually,
  SHIPPED_CATALOG_FILE,
} from "./catalog.ts";
import { createProfileValidator } from "./validate-profile.ts";

describe("shipped provider catalog", () => {
  const catalog = loadProviderCatalog();
  const raw = (JSON.parse(readFileSync(SHIPPED_CATALOG_FILE, "utf8")) as { providers: { name: string }[] }).providers;

  test("has at least 40 presets with unique names, every one valid", () => {
    assert.ok(catalog.list().length >= 40, `only ${catalog.list().length} presets`);
    assert.equal(catalog.list().length, raw.length);
    assert.equal(new Set(raw.map((p) => p.name)).size, raw.length);
    const validator = createProfileValidator();
    for (const preset of raw) {
      assert.doesNotThrow(() => validator.validate(preset, { purpose: "preset" }), preset.name);
    }
  });

  test("every preset with one fixed HTTP API names its api_base_url (the proxy's target)", () => {
    // No fixed base: the host comes per org or account from the token or userinfo (Salesforce
    // instance_url, DocuSign base_uri, Mailchimp data centre), per application (Algolia), or the
    // preset is an example with no API of its own.
    const perAccountHost = ["algolia", "docusign", "generic-hmac", "mailchimp", "salesforce"];
    const without = catalog
      .list()
      .filter((p) => p.apiBaseUrl === undefined)
      .map((p) => p.name)
      .sort();
    assert.deepEqual(without, perAccountHost);
    assert.equal(catalog.get("github")?.apiBaseUrl, "https://api.github.com");
    assert.equal(catalog.get("shopify")?.apiBaseUrl, "https://{shop}.myshopify.com/admin/api");
    assert.equal(catalog.get("aws-s3")?.apiBaseUrl, "https://s3.us-east-1.amazonaws.com");
    for (const preset of catalog.list()) {
      if (preset.apiBaseUrl !== undefined) assert.ok(!preset.apiBaseUrl.endsWith("/"), `${preset.name}: no trailing slash`);
    }
  });

  test("every OAuth preset leaves client_id empty and states its client authentication", () => {
    for (const preset of catalog.list()) {
      if (preset.oauth === undefined) continue;
      assert.equal(preset.oauth.clientId, "", preset.name);
      const rawOAuth = (raw.find((p) => p.name === preset.name) as { oauth?: { clientAuthMethod?: string } }).oauth;
      assert.ok(rawOAuth?.clientAuthMethod, `${preset.name} must state clientAuthMethod`);
    }
  });

  test("secret fields of key-based presets are masked in the hosted form", () => {
    for (const preset of catalog.list()) {
      if (preset.credentialSchema === undefined) continue;
      const properties = preset.credentialSchema.properties as Record<string, Record<string, unknown>>;
      const masked = Object.values(properties).filter((p) => p.writeOnly === true && p.format === "password");
      assert.ok(masked.length >= 1, `${preset.name} has no masked field`);
      for (const property of Object.values(properties)) assert.equal(typeof property.title, "string", preset.name);
    }
  });

  test("encodes the known quirks as data", () => {
    const google = catalog.get("google")!;
    assert.equal(google.oauth?.issuer, "https://accounts.google.com");
    assert.deepEqual(google.oauth?.authorizeParams, { access_type: "offline", prompt: "consent" });
    assert.ok(!google.oauth?.defaultScopes.includes("offline_access"), "Google rejects offline_access");
    assert.equal(catalog.get("github")?.oauth?.tokenRequestHeaders?.Accept, "application/json");
    const salesforce = catalog.get("salesforce")!;
    assert.equal(salesforce.oauth?.omitScopeOnExchange, true);
    assert.ok(salesforce.oauth?.extraTokenFields?.includes("instance_url"));
    assert.equal(catalog.get("notion")?.oauth?.clientAuthMethod, "client_secret_basic");
    assert.deepEqual(catalog.get("notion")?.oauth?.defaultScopes, []);
    assert.equal(catalog.get("atlassian")?.oauth?.authorizeParams.audience, "api.atlassian.com");
    assert.ok(catalog.get("atlassian")?.oauth?.defaultScopes.includes("offline_access"));
    assert.equal(catalog.get("dropbox")?.oauth?.authorizeParams.token_access_type, "offline");
    assert.equal(catalog.get("airtable")?.oauth?.pkce, true);
    assert.deepEqual(catalog.get("shopify")?.urlParams, ["shop"]);
    assert.match(catalog.get("shopify")?.oauth?.tokenEndpoint ?? "", /^https:\/\/\{shop\}\.myshopify\.com\//);
    assert.deepEqual(catalog.get("zendesk")?.urlParams, ["subdomain"]);
    assert.ok(catalog.get("xero")?.oauth?.defaultScopes.includes("offline_access"));
    assert.equal(catalog.get("slack")?.oauth?.scopeSeparator, ",");
    assert.deepEqual(catalog.get("anthropic")?.strategy, {
      type: "header",
      headerName: "x-api-key",
      credentialField: "api_key",
      valuePrefix: "",
    });
    assert.deepEqual(catalog.get("openai")?.strategy, {
      type: "header",
      headerName: "Authorization",
      credentialField: "api_key",
      valuePrefix: "Bearer ",
    });
    assert.deepEqual(catalog.get("twilio")?.strategy, { type: "basic_auth", usernameField: "account_sid", passwordField: "auth_token" });
    assert.equal(catalog.get("mapbox")?.strategy.type, "query_param");
    assert.equal(catalog.get("aws-s3")?.strategy.type, "aws_sigv4");
    assert.equal(catalog.get("generic-hmac")?.strategy.type, "hmac_payload");
    assert.equal(catalog.get("okta")?.oauth?.issuer, "https://{domain}");
    // Hosts of single-tenant identity providers are the operator's, never a connection's.
    assert.deepEqual(catalog.get("okta")?.operatorParams, { domain: "" });
    assert.deepEqual(catalog.get("keycloak")?.operatorParams, { host: "", realm: "" });
    assert.deepEqual(catalog.get("auth0")?.operatorParams, { tenant: "" });
    assert.deepEqual(catalog.get("gitlab-self-hosted")?.operatorParams, { host: "" });
    assert.deepEqual(catalog.get("salesforce-my-domain")?.urlParams, ["my_domain"]);
    assert.equal(catalog.get("paypal")?.authType, "oauth2_client_credentials");
    // Okta's default rotation grace period; Xero keeps the previous refresh token for 30 minutes.
    assert.equal(catalog.get("okta")?.oauth?.refreshTokenReuseWindowSeconds, 30);
    assert.equal(catalog.get("xero")?.oauth?.refreshTokenReuseWindowSeconds, 1800);
    assert.equal(catalog.get("google")?.oauth?.refreshTokenReuseWindowSeconds, undefined);
  });

  test("filters by category, case-insensitively", () => {
    const ai = catalog.list("AI");
    assert.ok(ai.length >= 5);
    assert.ok(ai.every((p) => p.category === "ai"));
    assert.deepEqual(catalog.list("no-such-category"), []);
    assert.equal(catalog.get("GitHub")?.name, "github");
  });
});

describe("createProviderCatalog", () => {
  const preset = {
    name: "x",
    authType: "oauth2",
    oauth: { issuer: "https://x.example", clientAuthMethod: "client_secret_basic" },
    strategy: { type: "oauth2" },
  };

  test("refuses an invalid preset, naming it and the field", () => {
    assert.throws(
      () => createProviderCatalog([preset, { ...preset, name: "y", oauth: { issuer: "http://y.example" } }]),
      /preset 1 is invalid: providers\[1\]\.oauth\.issuer/,
    );
  });

  test("refuses duplicate names", () => {
    assert.throws(() => createProviderCatalog([preset, preset]), /used twice/);
  });
});

describe("loadProviderCatalogGradually", () => {
  test("gives the catalog loadProviderCatalog gives", async () => {
    const gradual = await loadProviderCatalogGradually();
    assert.deepEqual(gradual.list(), loadProviderCatalog().list());
    assert.equal(gradual.get("GitHub")?.name, "github");
  });

  test("validates one preset per event-loop turn, so requests are served in between", async () => {
    let turns = 0;
    let ticking = true;
    const tick = () => {
      turns += 1;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const base = createProfileValidator();
    const seenAt: number[] = [];
    const validator = {
      validate: (...args: Parameters<typeof base.validate>) => {
        seenAt.push(turns);
        return base.validate(...args);
      },
    };
    try {
      await loadProviderCatalogGradually({ validator });
    } finally {
      ticking = false;
    }
    assert.ok(seenAt.length >= 40);
    for (let i = 1; i < seenAt.length; i += 1) assert.ok(seenAt[i]! > seenAt[i - 1]!, `presets ${i - 1} and ${i} in one turn`);
  });

  test("rejects as loadProviderCatalog throws, naming the preset", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nexus-catalog-"));
    try {
      const file = join(dir, "catalog.json");
      const preset = { name: "x", authType: "oauth2", oauth: { issuer: "http://x.example" }, strategy: { type: "oauth2" } };
      writeFileSync(file, JSON.stringify({ providers: [preset] }));
      await assert.rejects(loadProviderCatalogGradually({ file }), /preset 0 is invalid: providers\[0\]\.oauth\.issuer/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("createLazyProviderCatalog", () => {
  test("loads on first use unless a catalog was provided first", () => {
    let loads = 0;
    const load = () => {
      loads += 1;
      return createProviderCatalog([]);
    };
    const lazy = createLazyProviderCatalog(load);
    lazy.provide(loadProviderCatalog());
    assert.equal(lazy.get("github")?.name, "github");
    assert.equal(loads, 0);
    const other = createLazyProviderCatalog(load);
    assert.deepEqual(other.list(), []);
    other.provide(loadProviderCatalog());
    assert.deepEqual(other.list(), [], "a catalog already loaded stays");
    assert.equal(loads, 1);
  });
});
