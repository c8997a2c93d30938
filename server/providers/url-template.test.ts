import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { InvalidArgumentError } from "../domain/errors.ts";
import { analyzeUrlTemplate, fillUrlTemplate, MissingEndpointParamError, UrlTemplateError, urlParamValues } from "./url-template.ts";
import { createProfileValidator } from "./validate-profile.ts";

describe("analyzeUrlTemplate", () => {
  test("tells the host, a label under a suffix, the path and the query apart", () => {
    assert.deepEqual(analyzeUrlTemplate("https://{host}/realms/{realm}/x?tenant={t}"), [
      { name: "host", slot: { kind: "host" } },
      { name: "realm", slot: { kind: "path" } },
      { name: "t", slot: { kind: "query" } },
    ]);
    assert.deepEqual(analyzeUrlTemplate("https://{shop}.MyShopify.com/admin"), [
      { name: "shop", slot: { kind: "label", suffix: "myshopify.com", isSuffixFixed: true } },
    ]);
    assert.deepEqual(analyzeUrlTemplate("https://{a}.{b}.example.com"), [
      { name: "a", slot: { kind: "label", suffix: "zzurlparam1zz.example.com", isSuffixFixed: false } },
      { name: "b", slot: { kind: "label", suffix: "example.com", isSuffixFixed: true } },
    ]);
  });
});

describe("fillUrlTemplate", () => {
  const shop = "https://{shop}.myshopify.com/admin/oauth/access_token";
  const fill = (template: string, connection: Record<string, string>, operator: Record<string, string> = {}) =>
    fillUrlTemplate(template, { operator, connection });

  test("a connection label fills its slot, operator values fill theirs", () => {
    assert.equal(fill(shop, { shop: "acme-1" }), "https://acme-1.myshopify.com/admin/oauth/access_token");
    assert.equal(
      fill("https://{host}/realms/{realm}/token", {}, { host: "sso.example.com:8443", realm: "main" }),
      "https://sso.example.com:8443/realms/main/token",
    );
    assert.equal(fill("https://{tenant}.auth0.com/", {}, { tenant: "acme.eu" }), "https://acme.eu.auth0.com/");
  });

  test("a connection value that is not one lower-case DNS label is refused", () => {
    for (const value of [
      "evil.com/",
      "a.b",
      "x@evil.com",
      "%2e",
      "evil.com:443",
      "ACME",
      "ünïcode",
      "-a",
      "a-",
      "",
      "a".repeat(64),
      "evil。com",
      "a b",
    ]) {
      assert.throws(() => fill(shop, { shop: value }), UrlTemplateError, JSON.stringify(value));
    }
  });

  test("a connection never fills a whole host, a path, a query, or a label under a public suffix", () => {
    for (const template of [
      "https://{p}/token",
      "https://idp.example.com/{p}/token",
      "https://idp.example.com/t?x={p}",
      "https://{p}.com/t",
      "https://{p}.co.uk/t",
      "https://{p}.localhost/t",
      "https://{p}.{q}.example.com/t",
    ]) {
      assert.throws(() => fill(template, { p: "acme", q: "x" }), UrlTemplateError, template);
    }
  });

  test("a connection never fills a label under a shared hosting domain (PSL private section), save a provider's own tenants", () => {
    const shared = ["herokuapp.com", "github.io", "vercel.app", "ngrok.io", "s3.amazonaws.com", "blogspot.com", "app.herokuapp.com"];
    for (const suffix of shared) {
      assert.throws(() => fill(`https://{x}.${suffix}/oauth/token`, { x: "attacker" }), UrlTemplateError, suffix);
    }
    assert.equal(
      fill("https://{x}.myshopify.com/admin/oauth/access_token", { x: "acme" }),
      "https://acme.myshopify.com/admin/oauth/access_token",
    );
    assert.equal(fill("https://{x}.zendesk.com/oauth/tokens", { x: "acme" }), "https://acme.zendesk.com/oauth/tokens");
  });

  test("the operator's value wins over a connection value of the same name", () => {
    assert.equal(fill("https://{domain}/token", { domain: "evil" }, { domain: "dev-1.okta.com" }), "https://dev-1.okta.com/token");
  });

  test("operator values are checked against their slot", () => {
    for (const [template, value] of [
      ["https://{h}/t", "evil.com/path"],
      ["https://{h}/t", "user@evil.com"],
      ["https://{h}/t", "evil.com:99999"],
      ["https://{h}/t", "https://evil.com"],
      ["https://{h}.example.com/t", "a:1"],
      ["https://example.com/{r}/t", ".."],
      ["https://example.com/{r}/t", "a/b"],
    ] as const) {
      assert.throws(() => fill(template, {}, { h: value, r: value }), UrlTemplateError, `${template} ${value}`);
    }
  });

  test("a placeholder without a value is a MissingEndpointParamError, with no prototype lookups", () => {
    assert.throws(() => fill(shop, {}), MissingEndpointParamError);
    assert.throws(() => fill("https://{constructor}.example.com", {}), MissingEndpointParamError);
    assert.throws(() => fill("https://{domain}/t", {}, { domain: "" }), MissingEndpointParamError, "a preset not configured yet");
  });

  test("urlParamValues keeps only the declared connection params", () => {
    const values = urlParamValues(
      { urlParams: ["shop"], operatorParams: { domain: "d.example" } },
      { shop: "a", domain: "evil", other: "x" },
    );
    assert.deepEqual(values, { operator: { domain: "d.example" }, connection: { shop: "a" } });
  });
});

describe("the URL-parameter rule in profile validation", () => {
  const validator = createProfileValidator();
  const profile = (oauth: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    name: "idp",
    authType: "oauth2",
    oauth: { clientId: "c", clientAuthMethod: "client_secret_basic", ...oauth },
    strategy: { type: "oauth2" },
    ...extra,
  });
  const fieldOf = (input: unknown, purpose: "write" | "preset" | "stored" = "write") => {
    try {
      validator.validate(input, { hasClientSecret: true, purpose });
    } catch (err) {
      assert.ok(err instanceof InvalidArgumentError, String(err));
      return `${err.field}: ${err.reason}`;
    }
    return "valid";
  };

  test("a connection-set parameter that fills a host, path or public suffix is refused on writes and in presets", () => {
    const okta = { issuer: "https://{domain}", tokenEndpoint: "https://{domain}/oauth2/v1/token" };
    assert.match(
      fieldOf(profile(okta, { urlParams: ["domain"] })),
      /^provider\.oauth\.issuer: lets each connection set \{domain\} as the whole host/,
    );
    assert.match(fieldOf(profile(okta, { urlParams: ["domain"] }), "preset"), /^provider\.oauth\.issuer:/);
    const path = { authorizationEndpoint: "https://idp.example.com/{t}/authorize", tokenEndpoint: "https://idp.example.com/t" };
    assert.match(fieldOf(profile(path, { urlParams: ["t"] })), /^provider\.oauth\.authorization_endpoint: .*the path/);
    const tld = { authorizationEndpoint: "https://{t}.com/a", tokenEndpoint: "https://idp.example.com/t" };
    assert.match(fieldOf(profile(tld, { urlParams: ["t"] })), /not a fixed registrable domain/);
    // A profile stored before the rule still reads (the fill refuses the slot at request time).
    assert.equal(fieldOf(profile(okta, { urlParams: ["domain"] }), "stored"), "valid");
  });

  test("operator_params: required on writes, optional in presets, checked where they go, never both", () => {
    const okta = { issuer: "https://{domain}", tokenEndpoint: "https://{domain}/oauth2/v1/token" };
    assert.equal(fieldOf(profile(okta, { operatorParams: { domain: "dev-1.okta.com" } })), "valid");
    assert.match(fieldOf(profile(okta, { operatorParams: { domain: "" } })), /^provider\.operator_params\.domain: is required/);
    assert.equal(fieldOf(profile(okta, { operatorParams: { domain: "" } }), "preset"), "valid");
    assert.match(
      fieldOf(profile(okta, { operatorParams: { domain: "evil.com/x" } })),
      /^provider\.operator_params\.domain: must be a lower-case host/,
    );
    assert.match(
      fieldOf(profile(okta, { operatorParams: { domain: "d.example" }, urlParams: ["domain"] })),
      /^provider\.operator_params\.domain: is also listed in url_params/,
    );
    assert.match(fieldOf(profile(okta)), /^provider\.oauth\.issuer: uses \{domain\}, which is neither/);
    // The scheme rule judges the filled URL: plain http only for a loopback operator host.
    const http = { issuer: "http://{domain}", tokenEndpoint: "http://{domain}/token" };
    assert.equal(fieldOf(profile(http, { operatorParams: { domain: "127.0.0.1:8080" } })), "valid");
    assert.match(fieldOf(profile(http, { operatorParams: { domain: "idp.example.com" } })), /^provider\.oauth\.issuer: must use https/);
  });

  test("a connection label under a fixed registrable domain is allowed", () => {
    const shop = { authorizationEndpoint: "https://{shop}.myshopify.com/a", tokenEndpoint: "https://{shop}.myshopify.com/t" };
    assert.equal(fieldOf(profile(shop, { urlParams: ["shop"] })), "valid");
    const mixed = { issuer: "https://{tenant}.{region}.idp.example.com", tokenEndpoint: "https://{tenant}.{region}.idp.example.com/t" };
    assert.match(
      fieldOf(profile(mixed, { urlParams: ["tenant"], operatorParams: { region: "eu" } })),
      /not a fixed registrable domain/,
      "the suffix must be fixed by the template itself",
    );
  });
});

describe("fillUrlTemplate under arbitrary connection values (fast-check)", () => {
  test("a value is either refused or fills one label under the fixed domain", () => {
    const templates = ["https://{shop}.myshopify.com/admin/oauth/access_token", "https://api.{shop}.example.co.uk/t?x=1"];
    const values = fc.oneof(
      fc.string({ unit: "binary", maxLength: 80 }),
      fc.stringMatching(/^[a-z0-9.:@/%?#[\]-]{0,40}$/),
      fc.domain(),
      fc.webUrl(),
    );
    fc.assert(
      fc.property(fc.constantFrom(...templates), values, (template, value) => {
        let url: string;
        try {
          url = fillUrlTemplate(template, { operator: {}, connection: { shop: value } });
        } catch (err) {
          assert.ok(err instanceof UrlTemplateError, String(err));
          return;
        }
        const host = new URL(url).hostname;
        const suffix = template.includes("myshopify") ? ".myshopify.com" : ".example.co.uk";
        assert.ok(host.endsWith(suffix), host);
        assert.equal(host.split(".").length, new URL(template.replace("{shop}", "x")).hostname.split(".").length, host);
        assert.equal(new URL(url).port, "");
      }),
      { numRuns: 2000 },
    );
  });
});
