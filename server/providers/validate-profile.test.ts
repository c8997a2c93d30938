import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InvalidArgumentError } from "../domain/errors.ts";
import { createProfileValidator, fieldPath } from "./validate-profile.ts";

const validator = createProfileValidator();

const oauthProfile = () => ({
  name: "acme",
  displayName: "Acme",
  authType: "oauth2",
  oauth: {
    authorizationEndpoint: "https://acme.example/oauth/authorize",
    tokenEndpoint: "https://acme.example/oauth/token",
    clientId: "client-1",
  },
  strategy: { type: "oauth2" },
});

const apiKeyProfile = () => ({
  name: "keyed",
  authType: "api_key",
  credentialSchema: {
    type: "object",
    properties: { api_key: { type: "string", format: "password", writeOnly: true } },
    required: ["api_key"],
  },
  strategy: { type: "header" },
});

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${String(err)}`);
    return err.field;
  }
  assert.fail("expected an InvalidArgumentError");
}

describe("validate-profile", () => {
  test("fills OAuth defaults; client_auth_method follows whether a secret exists", () => {
    const withSecret = validator.validate(oauthProfile(), { hasClientSecret: true });
    assert.deepEqual(withSecret.oauth, {
      authorizationEndpoint: "https://acme.example/oauth/authorize",
      tokenEndpoint: "https://acme.example/oauth/token",
      clientId: "client-1",
      defaultScopes: [],
      authorizeParams: {},
      tokenParams: {},
      clientAuthMethod: "client_secret_basic",
      pkce: true,
      scopeSeparator: " ",
      omitScopeOnExchange: false,
    });
    assert.equal(withSecret.category, "");
    assert.deepEqual(withSecret.urlParams, []);
    const publicClient = validator.validate(oauthProfile());
    assert.equal(publicClient.oauth?.clientAuthMethod, "none");
  });

  test("fills strategy defaults from the protocol table", () => {
    assert.deepEqual(validator.validate(apiKeyProfile()).strategy, {
      type: "header",
      headerName: "Authorization",
      credentialField: "api_key",
      valuePrefix: "",
    });
    const hmac = validator.validate({
      ...apiKeyProfile(),
      credentialSchema: { type: "object", properties: { api_secret: { type: "string" } }, required: ["api_secret"] },
      strategy: { type: "hmac_payload", headerName: "X-Sig" },
    });
    assert.deepEqual(hmac.strategy, {
      type: "hmac_payload",
      headerName: "X-Sig",
      secretField: "api_secret",
      algorithm: "sha256",
      encoding: "hex",
    });
    const aws = validator.validate({
      ...apiKeyProfile(),
      credentialSchema: {
        type: "object",
        properties: { access_key: { type: "string" }, secret_key: { type: "string" } },
        required: ["access_key", "secret_key"],
      },
      strategy: { type: "aws_sigv4", service: "s3" },
    });
    assert.deepEqual(aws.strategy, { type: "aws_sigv4", service: "s3", region: "us-east-1" });
    // An OAuth provider's header strategy reads the access token, not an api_key field.
    const shopifyLike = validator.validate({ ...oauthProfile(), strategy: { type: "header", headerName: "X-Shopify-Access-Token" } });
    assert.equal(shopifyLike.strategy.type === "header" && shopifyLike.strategy.credentialField, "access_token");
  });

  test("drops settings the auth type ignores", () => {
    const profile = validator.validate({ ...apiKeyProfile(), oauth: oauthProfile().oauth });
    assert.equal(profile.oauth, undefined);
    const oauth = validator.validate({ ...oauthProfile(), credentialSchema: apiKeyProfile().credentialSchema });
    assert.equal(oauth.credentialSchema, undefined);
  });

  const invalid: [string, () => unknown, string][] = [
    ["bad slug", () => ({ ...oauthProfile(), name: "Acme Corp" }), "provider.name"],
    ["long display name", () => ({ ...oauthProfile(), displayName: "x".repeat(129) }), "provider.display_name"],
    ["long category", () => ({ ...oauthProfile(), category: "x".repeat(65) }), "provider.category"],
    ["missing auth type", () => ({ ...oauthProfile(), authType: undefined }), "provider.auth_type"],
    ["unknown top-level field", () => ({ ...oauthProfile(), colour: "red" }), "provider.colour"],
    ["oauth2 without oauth", () => ({ ...oauthProfile(), oauth: undefined }), "provider.oauth"],
    [
      "oauth2 without client id",
      () => ({ ...oauthProfile(), oauth: { ...oauthProfile().oauth, clientId: "" } }),
      "provider.oauth.client_id",
    ],
    [
      "oauth2 without authorization endpoint or issuer",
      () => ({ ...oauthProfile(), oauth: { tokenEndpoint: "https://a.example/t", clientId: "c" } }),
      "provider.oauth.authorization_endpoint",
    ],
    [
      "client credentials without token endpoint",
      () => ({
        ...oauthProfile(),
        authType: "oauth2_client_credentials",
        oauth: { clientId: "c", clientAuthMethod: "client_secret_post" },
      }),
      "provider.oauth.token_endpoint",
    ],
    [
      "plain http on a public host",
      () => ({ ...oauthProfile(), oauth: { ...oauthProfile().oauth, tokenEndpoint: "http://acme.example/token" } }),
      "provider.oauth.token_endpoint",
    ],
    [
      "relative URL",
      () => ({ ...oauthProfile(), oauth: { ...oauthProfile().oauth, authorizationEndpoint: "/authorize" } }),
      "provider.oauth.authorization_endpoint",
    ],
    [
      "connection label under a shared hosting domain",
      () => ({
        ...oauthProfile(),
        urlParams: ["app"],
        oauth: { ...oauthProfile().oauth, tokenEndpoint: "https://{app}.herokuapp.com/token" },
      }),
      "provider.oauth.token_endpoint",
    ],
    [
      "placeholder not in url_params",
      () => ({ ...oauthProfile(), oauth: { ...oauthProfile().oauth, tokenEndpoint: "https://{shop}.example/token" } }),
      "provider.oauth.token_endpoint",
    ],
    [
      "public client without PKCE",
      () => ({ ...oauthProfile(), oauth: { ...oauthProfile().oauth, clientAuthMethod: "none", pkce: false } }),
      "provider.oauth.pkce",
    ],
    [
      "reserved authorize parameter",
      () => ({ ...oauthProfile(), oauth: { ...oauthProfile().oauth, authorizeParams: { redirect_uri: "https://evil.example" } } }),
      "provider.oauth.authorize_params.redirect_uri",
    ],
    [
      "oauth2 with a query_param strategy",
      () => ({ ...oauthProfile(), strategy: { type: "query_param", paramName: "k" } }),
      "provider.strategy.type",
    ],
    ["api key without credential schema", () => ({ ...apiKeyProfile(), credentialSchema: undefined }), "provider.credential_schema"],
    ["api key with oauth2 strategy", () => ({ ...apiKeyProfile(), strategy: { type: "oauth2" } }), "provider.strategy.type"],
    [
      "credential schema that does not compile",
      () => ({ ...apiKeyProfile(), credentialSchema: { type: "object", properties: { api_key: { type: "string", minLength: -1 } } } }),
      "provider.credential_schema",
    ],
    [
      "credential schema not an object",
      () => ({ ...apiKeyProfile(), credentialSchema: { type: "string" } }),
      "provider.credential_schema.type",
    ],
    [
      "credential schema without the strategy's field",
      () => ({ ...apiKeyProfile(), credentialSchema: { type: "object", properties: { token: { type: "string" } }, required: ["token"] } }),
      "provider.credential_schema.properties",
    ],
    [
      "query_param without param_name",
      () => ({ ...apiKeyProfile(), strategy: { type: "query_param" } }),
      "provider.strategy.query_param.param_name",
    ],
    [
      "hmac without header_name",
      () => ({ ...apiKeyProfile(), strategy: { type: "hmac_payload" } }),
      "provider.strategy.hmac_payload.header_name",
    ],
    ["aws without service", () => ({ ...apiKeyProfile(), strategy: { type: "aws_sigv4" } }), "provider.strategy.aws_sigv4.service"],
    [
      "header name not a token",
      () => ({ ...apiKeyProfile(), strategy: { type: "header", headerName: "X Key:" } }),
      "provider.strategy.header.header_name",
    ],
    [
      "config field of another type",
      () => ({ ...apiKeyProfile(), strategy: { type: "header", paramName: "k" } }),
      "provider.strategy.header.param_name",
    ],
    ["bad url param name", () => ({ ...oauthProfile(), urlParams: ["Shop"] }), "provider.url_params[0]"],
    [
      "scope with whitespace",
      () => ({ ...oauthProfile(), oauth: { ...oauthProfile().oauth, defaultScopes: ["a b"] } }),
      "provider.oauth.default_scopes[0]",
    ],
  ];
  for (const [name, make, field] of invalid) {
    test(`rejects ${name} with field ${field}`, () => {
      assert.equal(
        fieldOf(() => validator.validate(make(), { hasClientSecret: false })),
        field,
      );
    });
  }

  test("client authentication must agree with the secret on writes, not for presets", () => {
    const basic = { ...oauthProfile(), oauth: { ...oauthProfile().oauth, clientAuthMethod: "client_secret_basic" } };
    assert.equal(
      fieldOf(() => validator.validate(basic)),
      "provider.oauth.client_secret",
    );
    assert.equal(validator.validate(basic, { purpose: "preset" }).oauth?.clientAuthMethod, "client_secret_basic");
    const none = { ...oauthProfile(), oauth: { ...oauthProfile().oauth, clientAuthMethod: "none" } };
    assert.equal(
      fieldOf(() => validator.validate(none, { hasClientSecret: true })),
      "provider.oauth.client_auth_method",
    );
    assert.equal(
      fieldOf(() => validator.validate(apiKeyProfile(), { hasClientSecret: true })),
      "provider.oauth.client_secret",
    );
  });

  test("allows http on loopback and declared placeholders", () => {
    const profile = validator.validate({
      ...oauthProfile(),
      urlParams: ["shop"],
      oauth: {
        ...oauthProfile().oauth,
        authorizationEndpoint: "http://127.0.0.1:8000/authorize",
        tokenEndpoint: "https://{shop}.myshopify.com/admin/oauth/access_token",
      },
    });
    assert.equal(profile.oauth?.tokenEndpoint, "https://{shop}.myshopify.com/admin/oauth/access_token");
  });

  test("fieldPath maps domain paths to proto paths", () => {
    assert.equal(fieldPath("provider", ["oauth", "tokenEndpoint"]), "provider.oauth.token_endpoint");
    assert.equal(fieldPath("provider", ["strategy", "paramName"], "query_param"), "provider.strategy.query_param.param_name");
    assert.equal(fieldPath("provider", ["oauth", "authorizeParams", "someKey"]), "provider.oauth.authorize_params.someKey");
    assert.equal(fieldPath("", ["urlParams", 2]), "url_params[2]");
  });
});

test("refreshTokenReuseWindowSeconds: whole seconds from 0 to 86400, kept as given", () => {
  const withWindow = (value: unknown) => ({ ...oauthProfile(), oauth: { ...oauthProfile().oauth, refreshTokenReuseWindowSeconds: value } });
  assert.equal(validator.validate(withWindow(30)).oauth?.refreshTokenReuseWindowSeconds, 30);
  assert.equal(validator.validate(oauthProfile()).oauth?.refreshTokenReuseWindowSeconds, undefined);
  for (const bad of [-1, 1.5, 86_401, "30"]) {
    assert.equal(
      fieldOf(() => validator.validate(withWindow(bad))),
      "provider.oauth.refresh_token_reuse_window_seconds",
      String(bad),
    );
  }
});

test("apiBaseUrl: an https (or loopback http) URL without query or fragment, placeholders under the URL rules", () => {
  const withBase = (apiBaseUrl: string, extra: Record<string, unknown> = {}) => ({ ...apiKeyProfile(), apiBaseUrl, ...extra });
  assert.equal(validator.validate(withBase("https://api.acme.example/v2")).apiBaseUrl, "https://api.acme.example/v2");
  assert.equal(validator.validate(withBase("http://127.0.0.1:8080/api")).apiBaseUrl, "http://127.0.0.1:8080/api");
  assert.equal(
    fieldOf(() => validator.validate(withBase("http://api.acme.example"))),
    "provider.api_base_url",
  );
  assert.equal(
    fieldOf(() => validator.validate(withBase("https://api.acme.example/v2?x=1"))),
    "provider.api_base_url",
  );
  assert.equal(
    fieldOf(() => validator.validate(withBase("https://u:p@api.acme.example"))),
    "provider.api_base_url",
  );
  assert.equal(
    fieldOf(() => validator.validate(withBase("https://api.acme.example/#x"))),
    "provider.api_base_url",
  );
  // A connection may fill one DNS label under a fixed domain, never the whole host.
  const label = validator.validate(withBase("https://{shop}.myshopify.com/admin/api", { urlParams: ["shop"] }));
  assert.equal(label.apiBaseUrl, "https://{shop}.myshopify.com/admin/api");
  assert.equal(
    fieldOf(() => validator.validate(withBase("https://{host}/api", { urlParams: ["host"] }))),
    "provider.api_base_url",
  );
  // An operator may fix the whole host; on writes the value is required.
  assert.equal(
    validator.validate(withBase("https://{host}/api/v4", { operatorParams: { host: "git.corp.example" } })).apiBaseUrl,
    "https://{host}/api/v4",
  );
  assert.equal(
    fieldOf(() => validator.validate(withBase("https://{host}/api", { operatorParams: { host: "" } }))),
    "provider.operator_params.host",
  );
  assert.equal(
    fieldOf(() => validator.validate(withBase("https://{nope}.example.com"))),
    "provider.api_base_url",
  );
});

test("proxyTimeouts: whole milliseconds from 1 to 3600000, absent ones left to the server default", () => {
  const p = validator.validate({ ...apiKeyProfile(), proxyTimeouts: { connectMs: 500, totalMs: 60_000 } });
  assert.deepEqual(p.proxyTimeouts, { connectMs: 500, totalMs: 60_000 });
  assert.equal(validator.validate({ ...apiKeyProfile(), proxyTimeouts: {} }).proxyTimeouts, undefined);
  assert.equal(
    fieldOf(() => validator.validate({ ...apiKeyProfile(), proxyTimeouts: { idleMs: 0 } })),
    "provider.proxy_timeouts.idle_ms",
  );
  assert.equal(
    fieldOf(() => validator.validate({ ...apiKeyProfile(), proxyTimeouts: { idleMs: 3_600_001 } })),
    "provider.proxy_timeouts.idle_ms",
  );
  assert.equal(
    fieldOf(() => validator.validate({ ...apiKeyProfile(), proxyTimeouts: { idleMs: 1.5 } })),
    "provider.proxy_timeouts.idle_ms",
  );
});
