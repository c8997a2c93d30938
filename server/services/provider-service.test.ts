/**
 * ProviderService through the real server: REST (the google.api.http mapping) and a Connect client.
 * Every response body is checked as raw text for the client secret, and so are the server's logs.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { StrategyType } from "../../gen/nexus/v1/credential_pb.ts";
import { ErrorInfoSchema, ErrorReason } from "../../gen/nexus/v1/errors_pb.ts";
import { AuthType, ProviderService } from "../../gen/nexus/v1/providers_pb.ts";
import { startServer, type TestServer } from "../../test/support/start-server.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("server/services/provider-service.test.ts", () => {
  const SECRET = "very-secret-client-value-91c2";
  const ROTATED = "rotated-secret-value-04be";
  const json = { "content-type": "application/json" };

  let server: TestServer;
  const bodies: string[] = [];

  async function rest(method: string, path: string, body?: unknown): Promise<{ status: number; text: string; json: any }> {
    const res = await fetch(`${server.baseUrl}${path}`, {
      method,
      headers: body === undefined ? server.auth(server.adminKey) : { ...json, ...server.auth(server.adminKey) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    bodies.push(text);
    return { status: res.status, text, json: text === "" ? undefined : JSON.parse(text) };
  }

  const acme = {
    name: "acme",
    display_name: "Acme",
    category: "crm",
    auth_type: "oauth2",
    oauth: {
      authorization_endpoint: "https://acme.example/oauth/authorize",
      token_endpoint: "https://acme.example/oauth/token",
      client_id: "acme-client",
      client_secret: SECRET,
      default_scopes: ["read"],
    },
    strategy: { type: "oauth2" },
  };

  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.close();
  });

  describe("ProviderService over REST", () => {
    test("POST /v1/providers creates; the secret is write-only", async () => {
      const res = await rest("POST", "/v1/providers", acme);
      assert.equal(res.status, 200, res.text);
      const p = res.json.provider;
      assert.equal(p.name, "acme");
      assert.equal(p.auth_type, "oauth2");
      assert.equal(p.oauth.has_client_secret, true);
      assert.equal(p.oauth.client_auth_method, "client_secret_basic");
      assert.equal(p.oauth.pkce, true);
      assert.equal(p.oauth.client_secret, undefined);
      assert.ok(p.create_time && p.update_time);
      assert.deepEqual(p.strategy, { type: "oauth2" });
    });

    test("a duplicate is AlreadyExists (409)", async () => {
      const res = await rest("POST", "/v1/providers", { ...acme, name: "ACME" });
      assert.equal(res.status, 409);
      assert.equal(res.json.code, "already_exists");
    });

    test("GET /v1/providers/{name} reads, case-insensitively; unknown is 404", async () => {
      const res = await rest("GET", "/v1/providers/Acme");
      assert.equal(res.status, 200);
      assert.equal(res.json.provider.display_name, "Acme");
      assert.equal(res.json.provider.oauth.has_client_secret, true);
      const missing = await rest("GET", "/v1/providers/nope");
      assert.equal(missing.status, 404);
      assert.equal(missing.json.details?.[0]?.debug?.reason, "provider_not_found");
    });

    test("PATCH with update_mask changes only the masked fields", async () => {
      const res = await rest("PATCH", "/v1/providers/acme?update_mask=display_name,oauth.default_scopes", {
        display_name: "Acme Corp",
        category: "ignored-not-in-mask",
        oauth: { default_scopes: ["read", "write"] },
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.provider.display_name, "Acme Corp");
      assert.equal(res.json.provider.category, "crm");
      assert.deepEqual(res.json.provider.oauth.default_scopes, ["read", "write"]);
      assert.equal(res.json.provider.oauth.client_id, "acme-client");
      assert.equal(res.json.provider.oauth.has_client_secret, true);
    });

    test("PATCH without a mask changes the fields given; the secret rotates", async () => {
      const res = await rest("PATCH", "/v1/providers/acme", { category: "sales", oauth: { client_secret: ROTATED } });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.provider.category, "sales");
      assert.equal(res.json.provider.display_name, "Acme Corp");
      const { clientSecret } = await (await import("../providers/provider-directory.ts"))
        .createProviderDirectory({ store: server.app.store, vault: server.app.vault })
        .getWithSecret("acme");
      assert.equal(clientSecret, ROTATED);
    });

    test("bad profiles are InvalidArgument naming the proto field path", async () => {
      const cases: [unknown, string][] = [
        [{ ...acme, name: "bad", oauth: { ...acme.oauth, token_endpoint: "http://acme.example/token" } }, "provider.oauth.token_endpoint"],
        [{ ...acme, name: "Bad Name!" }, "provider.name"],
        [{ ...acme, name: "bad", auth_type: "api_key", oauth: undefined, strategy: { type: "header" } }, "provider.credential_schema"],
        [{ ...acme, name: "bad", auth_type: "api_key", strategy: { type: "header" } }, "provider.oauth.client_secret"],
        [{ ...acme, name: "bad", strategy: { type: "query_param", query_param: {} } }, "provider.strategy.type"],
        [
          {
            name: "bad",
            auth_type: "api_key",
            strategy: { type: "query_param" },
            credential_schema: { type: "object", properties: { api_key: { type: "string" } }, required: ["api_key"] },
          },
          "provider.strategy.query_param.param_name",
        ],
        // No secret: client_auth_method defaults to none, which needs PKCE.
        [{ ...acme, name: "bad", oauth: { ...acme.oauth, client_secret: "", pkce: false } }, "provider.oauth.pkce"],
        [{ ...acme, name: "bad", oauth: { ...acme.oauth, client_auth_method: "none" } }, "provider.oauth.client_auth_method"],
        [{ ...acme, name: "bad", auth_type: "nonsense" }, "provider.auth_type"],
      ];
      for (const [body, field] of cases) {
        const res = await rest("POST", "/v1/providers", body);
        assert.equal(res.status, 400, `${field}: ${res.text}`);
        assert.equal(res.json.code, "invalid_argument");
        const info = res.json.details?.[0]?.debug;
        assert.equal(info?.reason, "invalid_field");
        assert.equal(info?.field, field, res.text);
      }
      const unknownPath = await rest("PATCH", "/v1/providers/acme?update_mask=colour", { display_name: "x" });
      assert.equal(unknownPath.status, 400);
      assert.equal(unknownPath.json.details?.[0]?.debug?.field, "update_mask");
    });

    test("GET /v1/providers lists; GET /v1/catalog/providers filters by category", async () => {
      const list = await rest("GET", "/v1/providers?page_size=10");
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.json.providers.map((p: { name: string }) => p.name),
        ["acme"],
      );
      const catalog = await rest("GET", "/v1/catalog/providers");
      assert.ok(catalog.json.providers.length >= 40);
      const ai = await rest("GET", "/v1/catalog/providers?category=ai");
      assert.ok(ai.json.providers.length > 0);
      assert.ok(ai.json.providers.every((p: { category: string }) => p.category === "ai"));
      const google = catalog.json.providers.find((p: { name: string }) => p.name === "google");
      assert.equal(google.oauth.issuer, "https://accounts.google.com");
      assert.equal(google.oauth.client_id, undefined, "presets have no client_id");
    });

    test("DELETE refuses while connections use the provider, then forces", async () => {
      await server.app.store.createConnection({ tenantId: "default", userId: "u1", providerName: "acme" });
      const refused = await rest("DELETE", "/v1/providers/acme");
      assert.equal(refused.status, 400);
      assert.equal(refused.json.code, "failed_precondition");
      const forced = await rest("DELETE", "/v1/providers/acme?force=true");
      assert.equal(forced.status, 200);
      assert.equal((await rest("GET", "/v1/providers/acme")).status, 404);
    });

    test("the client secret never appears in a response body or a log line", () => {
      for (const body of bodies) {
        assert.ok(!body.includes(SECRET) && !body.includes(ROTATED), body);
      }
      const logs = server.logs();
      assert.ok(logs.length > 0);
      assert.ok(!logs.includes(SECRET) && !logs.includes(ROTATED));
    });
  });

  describe("ProviderService over Connect", () => {
    test("create, update with a mask, and typed errors", async () => {
      const client = createClient(
        ProviderService,
        createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1", interceptors: [server.bearer(server.adminKey)] }),
      );
      const { provider } = await client.createProvider({
        provider: {
          name: "weather",
          displayName: "Weather",
          authType: AuthType.API_KEY,
          credentialSchema: { type: "object", properties: { api_key: { type: "string" } }, required: ["api_key"] },
          strategy: { type: StrategyType.QUERY_PARAM, config: { case: "queryParam", value: { paramName: "appid" } } },
        },
      });
      assert.equal(provider?.strategy?.config.case, "queryParam");
      assert.equal(provider?.strategy?.config.case === "queryParam" && provider.strategy.config.value.credentialField, "api_key");
      const updated = await client.updateProvider({
        provider: { name: "weather", category: "weather" },
        updateMask: { paths: ["category"] },
      });
      assert.equal(updated.provider?.category, "weather");
      assert.equal(updated.provider?.displayName, "Weather");
      const err = await client.getProvider({ name: "" }).catch((e: unknown) => ConnectError.from(e));
      assert.ok(err instanceof ConnectError);
      assert.equal(err.code, Code.InvalidArgument);
      assert.equal(err.findDetails(ErrorInfoSchema)[0]?.reason, ErrorReason.INVALID_FIELD);
      assert.equal(err.findDetails(ErrorInfoSchema)[0]?.field, "name");
    });
  });
});
