/**
 * Walks every shipped catalog preset and tries to steer its endpoints from a request: every
 * parameter (connection-set, operator-set, undeclared) gets adversarial values, first through the
 * RequestConnection check, then straight into the real resolver, authorization URL, token, revoke
 * and live-check requests with a recording fetch. Every URL Nexus would contact must sit on a host
 * the preset fixes, or on one DNS label under a fixed registrable domain. Checked on the resolved
 * URLs, not only on the declaration.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { getDomain, parse } from "tldts";
import { createLiveCheck } from "../server/capture/live-check.ts";
import { checkParams } from "../server/consent/consent-input.ts";
import { InvalidArgumentError } from "../server/domain/errors.ts";
import { createOAuthClient } from "../server/oauth/oauth-client.ts";
import { loadProviderCatalog } from "../server/providers/catalog.ts";
import type { ProviderProfile } from "../server/providers/profile.ts";

/** What an operator put in the preset's operator_params (fits a host, a label and a path segment). */
const OPERATOR_VALUE = "operator-fixed";
const BENIGN = "acme";
const ADVERSARIAL = [
  "evil.com",
  "evil.com/",
  "//evil.com",
  "/evil.com",
  "a.b",
  "x@evil.com",
  "x@",
  "%2e",
  "%2e%2e",
  ".",
  "..",
  "evil.com:443",
  ":443",
  "443",
  "ACME",
  "Acme",
  "ünïcode",
  "evil。com",
  "ｅｖｉｌ",
  "a b",
  "a\u0000",
  "a\u200b",
  "evil.com#",
  "evil.com?",
  "evil.com\\",
  "[::1]",
  "127.0.0.1",
  "-a",
  "a-",
  "",
  "a".repeat(64),
  "evil.com%2f",
  "xn--nxasmq6b",
  "https://evil.com",
];
const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";

const catalog = loadProviderCatalog();
const presets = catalog.list();

function templatesOf(p: ProviderProfile): string[] {
  const o = p.oauth;
  return [
    o?.issuer,
    o?.authorizationEndpoint,
    o?.tokenEndpoint,
    o?.revocationEndpoint,
    o?.userinfoEndpoint,
    p.testEndpoint,
    p.apiBaseUrl,
  ].filter((u): u is string => u !== undefined);
}

/** The host a template may reach, as a glob: operator values filled, each connection label a `*`. */
function hostGlob(p: ProviderProfile, template: string): string {
  const host = /^https?:\/\/([^/?#]*)/.exec(template)?.[1] ?? assert.fail(`${p.name}: ${template} has no host`);
  return host.toLowerCase().replace(/\{([a-z0-9_]+)\}/g, (_m, name: string) => (p.urlParams.includes(name) ? "*" : OPERATOR_VALUE));
}

function globMatches(glob: string, host: string): boolean {
  const pattern = glob
    .split("*")
    .map((part) => part.replace(/[.\\[\]]/g, "\\$&"))
    .join(LABEL);
  return new RegExp(`^${pattern}$`).test(host);
}

/** Sends nothing anywhere: records each URL and answers like a provider at that URL would. */
function recordingFetch() {
  const urls: string[] = [];
  const fetch = async (url: string, _init?: RequestInit) => {
    urls.push(url);
    const json = (body: unknown) => new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });
    if (url.endsWith("/.well-known/openid-configuration")) {
      const issuer = url.slice(0, -"/.well-known/openid-configuration".length);
      return json({
        issuer,
        authorization_endpoint: `${issuer}/d/authorize`,
        token_endpoint: `${issuer}/d/token`,
        revocation_endpoint: `${issuer}/d/revoke`,
        jwks_uri: `${issuer}/d/jwks`,
      });
    }
    if (/\/(token|access_token|oauth\/tokens)$/.test(new URL(url).pathname) || url.includes("token")) {
      return json({ access_token: "at", token_type: "bearer", expires_in: 3600 });
    }
    return new Response("{}", { status: 200, headers: { "content-type": "application/json" } });
  };
  return { urls, fetch };
}

/** Runs every outbound step a connection can cause and returns the URLs Nexus would contact. */
async function contactedUrls(profile: ProviderProfile, params: Record<string, string>): Promise<{ urls: string[]; tokenCalls: number }> {
  const recorder = recordingFetch();
  const urls = recorder.urls;
  let tokenCalls = 0;
  const attempt = async (step: () => Promise<unknown>) => {
    try {
      await step();
    } catch {
      // Refusing is fine; only where requests went matters.
    }
  };
  if (profile.oauth !== undefined) {
    const oauth = createOAuthClient({ now: Date.now, fetch: recorder.fetch });
    const configured = { ...profile, oauth: { ...profile.oauth, clientId: "operator-client" } };
    await attempt(async () => {
      const provider = await oauth.resolve(configured, "operator-client-secret", params);
      for (const url of [provider.as.authorization_endpoint, provider.as.token_endpoint, provider.as.revocation_endpoint])
        if (url) urls.push(url);
      if (profile.authType === "oauth2") {
        urls.push(
          await oauth.authorizationUrl(provider, {
            redirectUri: "https://nexus.example/oauth/callback",
            state: "s",
            scopes: [],
            codeVerifier: "v".repeat(43),
          }),
        );
        const before = urls.length;
        await attempt(() => oauth.refresh(provider, "user-refresh-token"));
        tokenCalls += urls.length - before;
      } else {
        const before = urls.length;
        await attempt(() => oauth.clientCredentials(provider, []));
        tokenCalls += urls.length - before;
      }
      if (provider.as.revocation_endpoint) await attempt(() => oauth.revoke(provider, "user-token"));
    });
  }
  if (profile.testEndpoint !== undefined) {
    const check = createLiveCheck({ fetch: recorder.fetch, timeoutMs: 1000 });
    const fields = {
      api_key: "user-key",
      username: "u",
      password: "p",
      email: "e@example.com",
      api_token: "t",
      account_sid: "a",
      auth_token: "t",
    };
    await attempt(() => check({ profile, fields, params }));
  }
  return { urls, tokenCalls };
}

function configured(preset: ProviderProfile): ProviderProfile {
  const operatorParams = Object.fromEntries(Object.keys(preset.operatorParams ?? {}).map((name) => [name, OPERATOR_VALUE]));
  return { ...preset, operatorParams };
}

describe("catalog presets: no endpoint host can be chosen at request time", () => {
  test("the catalog has presets with operator-set and connection-set parameters to walk", () => {
    assert.ok(
      presets.some((p) => Object.keys(p.operatorParams ?? {}).length > 0),
      "some preset has operator params",
    );
    assert.ok(
      presets.some((p) => p.urlParams.length > 0),
      "some preset has connection params",
    );
    for (const name of ["okta", "keycloak", "auth0", "gitlab-self-hosted", "microsoft-graph-app"]) {
      assert.deepEqual(catalog.get(name)?.urlParams, [], `${name}: nothing is connection-set`);
      assert.ok(Object.keys(catalog.get(name)?.operatorParams ?? {}).length > 0, `${name}: the operator sets its URL`);
    }
    for (const name of ["shopify", "zendesk", "salesforce-my-domain", "atlassian-api-token"]) {
      assert.ok((catalog.get(name)?.urlParams.length ?? 0) > 0, `${name}: one app serves many hosts`);
    }
  });

  test("declared: a connection-set parameter only ever stands for one label under a fixed registrable domain", () => {
    for (const preset of presets) {
      for (const template of templatesOf(preset)) {
        const glob = hostGlob(preset, template);
        const rest = template.replace(/^https?:\/\/[^/?#]*/, "");
        for (const name of preset.urlParams)
          assert.ok(!rest.includes(`{${name}}`), `${preset.name}: {${name}} outside the host in ${template}`);
        if (!glob.includes("*")) continue;
        assert.match(glob, /^\*\.[^*]+$/, `${preset.name}: ${template}`);
        const suffix = glob.slice(2);
        assert.notEqual(getDomain(suffix), null, `${preset.name}: "${suffix}" is a public suffix`);
        // A shared hosting suffix (PSL private section) lets anyone own a host: only a provider's own tenant domain may be one.
        const shared = parse(suffix, { allowPrivateDomains: true });
        if (shared.isPrivate === true)
          assert.deepEqual([preset.name, shared.publicSuffix], ["shopify", "myshopify.com"], `${preset.name}: "${suffix}"`);
      }
    }
  });

  for (const preset of presets) {
    const profile = configured(preset);
    const globs = templatesOf(profile).map((t) => hostGlob(profile, t));
    const names = [...new Set([...profile.urlParams, ...Object.keys(profile.operatorParams ?? {}), "host", "domain"])];
    const benign = Object.fromEntries(profile.urlParams.map((n) => [n, BENIGN]));
    const assertFixed = (urls: string[], what: string) => {
      for (const url of urls) {
        const parsed = new URL(url);
        assert.equal(parsed.protocol, "https:", `${preset.name} ${what}: ${url}`);
        assert.equal(parsed.port, "", `${preset.name} ${what}: ${url}`);
        assert.ok(
          globs.some((g) => globMatches(g, parsed.hostname)),
          `${preset.name} ${what}: ${parsed.hostname} is outside ${globs.join(", ")}`,
        );
      }
    };

    test(`${preset.name}: adversarial params are refused, and never move an endpoint`, async () => {
      if (globs.length === 0) return;
      const baseline = await contactedUrls(profile, benign);
      assertFixed(baseline.urls, "baseline");
      // The harness really reaches the endpoints: a vacuous walk would pass anything.
      if (profile.oauth !== undefined) assert.ok(baseline.tokenCalls >= 1, `${preset.name}: the token endpoint was called`);
      else if (profile.testEndpoint !== undefined && !["hmac_payload", "aws_sigv4"].includes(profile.strategy.type)) {
        assert.ok(baseline.urls.length >= 1, `${preset.name}: the test endpoint was called`);
      }
      for (const name of names) {
        for (const value of ADVERSARIAL) {
          const params = { ...benign, [name]: value };
          const isLabel = new RegExp(`^${LABEL}$`).test(value);
          if (!(profile.urlParams.includes(name) && isLabel)) {
            assert.throws(
              () => checkParams(params, profile),
              InvalidArgumentError,
              `${preset.name}: params[${name}]=${JSON.stringify(value)} accepted`,
            );
          }
          // The flow refuses first; the resolver must hold on its own too (a row stored before the rule).
          assertFixed((await contactedUrls(profile, params)).urls, `params[${name}]=${JSON.stringify(value)}`);
        }
      }
    });
  }
});
