/**
 * An agent key tries to choose the host that receives the operator's client secret (issue 10 §1):
 * RequestConnection with `params.domain` naming a recording server, over REST, Connect and gRPC, and
 * an admin trying to store a profile that lets connections set a host. Both are refused with
 * InvalidArgument naming the field; the consent then runs against the operator's host (a real
 * OpenID Provider), and the recording server never sees a request: no client secret, code, PKCE
 * verifier or token reaches a host a caller chose.
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { ConnectionService } from "../gen/nexus/v1/connections_pb.ts";
import { ErrorInfoSchema, ErrorReason } from "../gen/nexus/v1/errors_pb.ts";
import { ProviderService } from "../gen/nexus/v1/providers_pb.ts";
import { createConsentStates } from "../server/consent/consent-states.ts";
import { clientSecretAad } from "../server/providers/profile.ts";
import { driveConsent } from "./support/consent-driver.ts";
import { postJson, requestConnection } from "./support/consent-fixtures.ts";
import { startOidcProvider, type TestOidcProvider } from "./support/oidc-provider.ts";
import { startServer, type TestServer } from "./support/start-server.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/provider-host-steering.test.ts", () => {
  const RETURN_URL = "http://localhost:3000/done";

  /** A server that answers like an identity provider and records every request it gets. */
  async function startRecorder() {
    const requests: { method: string; url: string; headers: string; body: string }[] = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        requests.push({
          method: req.method ?? "",
          url: req.url ?? "",
          headers: JSON.stringify(req.headers),
          body: Buffer.concat(chunks).toString(),
        });
        const origin = `http://${req.headers.host ?? ""}`;
        const body = (req.url ?? "").endsWith("/.well-known/openid-configuration")
          ? { issuer: origin, authorization_endpoint: `${origin}/authorize`, token_endpoint: `${origin}/token`, jwks_uri: `${origin}/jwks` }
          : { access_token: "attacker-token", token_type: "bearer", expires_in: 3600 };
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const hostPort = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { requests, hostPort, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }

  let server: TestServer;
  let idp: TestOidcProvider;
  let attacker: Awaited<ReturnType<typeof startRecorder>>;
  const secrets = new Set<string>();

  const admin = () => ({ baseUrl: server.baseUrl, auth: () => server.auth(server.adminKey) });
  const transports: Record<string, (key?: string) => Transport> = {
    Connect: (key) => createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "2", interceptors: [server.bearer(key)] }),
    gRPC: (key) => createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [server.bearer(key)] }),
  };

  function assertAttackerSawNothing() {
    assert.deepEqual(
      attacker.requests.map((r) => `${r.method} ${r.url}`),
      [],
      "the caller-chosen host got requests",
    );
  }

  async function rejected(call: Promise<unknown>): Promise<ConnectError> {
    return call.then(
      () => assert.fail("the call succeeded"),
      (err: unknown) => ConnectError.from(err),
    );
  }

  /** The okta-style profile: the operator fixes the host in operator_params. */
  const corpIdp = () => ({
    name: "corp-idp",
    auth_type: "oauth2",
    operator_params: { domain: new URL(idp.issuer).host },
    oauth: {
      issuer: "http://{domain}",
      token_endpoint: "http://{domain}/token",
      client_id: idp.clientId,
      client_secret: idp.clientSecret,
      default_scopes: ["openid", "offline_access"],
      authorize_params: { prompt: "consent" },
      client_auth_method: "client_secret_basic",
    },
    strategy: { type: "oauth2" },
  });

  /** What the okta preset used to be: a connection chooses the whole host. */
  const steerable = {
    name: "steerable",
    auth_type: "oauth2",
    url_params: ["domain"],
    oauth: {
      issuer: "https://{domain}",
      token_endpoint: "https://{domain}/oauth2/v1/token",
      client_id: "c",
      client_secret: "s",
      client_auth_method: "client_secret_basic",
    },
    strategy: { type: "oauth2" },
  };

  before(async () => {
    server = await startServer();
    idp = await startOidcProvider({ redirectUris: [`${server.baseUrl}/oauth/callback`] });
    attacker = await startRecorder();
    secrets.add(idp.clientSecret);
    const created = await postJson(admin(), "/v1/providers", corpIdp());
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const shop = {
      name: "shop",
      auth_type: "oauth2",
      url_params: ["shop"],
      oauth: {
        authorization_endpoint: "https://{shop}.myshopify.com/admin/oauth/authorize",
        token_endpoint: "https://{shop}.myshopify.com/admin/oauth/access_token",
        client_id: "shop-client",
        client_secret: "shop-client-secret-value",
        client_auth_method: "client_secret_post",
      },
      strategy: { type: "oauth2" },
    };
    assert.equal((await postJson(admin(), "/v1/providers", shop)).status, 200);
  });
  after(async () => {
    await server?.close();
    await idp?.close();
    await attacker?.close();
  });

  describe("an admin cannot store a profile that lets a connection choose a host", () => {
    test("REST: CreateProvider and UpdateProvider are InvalidArgument naming the URL field", async () => {
      const create = await postJson(admin(), "/v1/providers", steerable);
      assert.equal(create.status, 400);
      assert.match(JSON.stringify(create.body), /provider\.oauth\.issuer: lets each connection set \{domain\} as the whole host/);
      const patch = await fetch(`${server.baseUrl}/v1/providers/corp-idp?update_mask=url_params,operator_params`, {
        method: "PATCH",
        headers: { "content-type": "application/json", ...server.auth(server.adminKey) },
        body: JSON.stringify({ url_params: ["domain"] }),
      });
      assert.equal(patch.status, 400);
      assert.match(await patch.text(), /provider\.oauth\.issuer/);
    });

    for (const [protocol, transport] of Object.entries(transports)) {
      test(`${protocol}: CreateProvider is InvalidArgument with the field in ErrorInfo`, async () => {
        const client = createClient(ProviderService, transport(server.adminKey));
        const { oauth, ...rest } = steerable;
        const err = await rejected(
          client.createProvider({
            provider: {
              ...rest,
              authType: 1,
              urlParams: ["domain"],
              oauth: { issuer: oauth.issuer, tokenEndpoint: oauth.token_endpoint, clientId: "c", clientSecret: "s", clientAuthMethod: 1 },
              strategy: { type: 1 },
            },
          }),
        );
        assert.equal(err.code, Code.InvalidArgument);
        const info = err.findDetails(ErrorInfoSchema)[0];
        assert.equal(info?.reason, ErrorReason.INVALID_FIELD);
        assert.equal(info?.field, "provider.oauth.issuer");
      });
    }
  });

  describe("an agent key cannot send the client secret to a host of its choosing", () => {
    const attacks = (): { provider_name: string; params: Record<string, string>; field: string }[] => [
      { provider_name: "corp-idp", params: { domain: attacker.hostPort }, field: "params[domain]" },
      { provider_name: "corp-idp", params: { domain: "attacker.example" }, field: "params[domain]" },
      { provider_name: "shop", params: { shop: attacker.hostPort }, field: "params[shop]" },
      { provider_name: "shop", params: { shop: "evil.com/" }, field: "params[shop]" },
      { provider_name: "shop", params: { shop: "x@evil.com" }, field: "params[shop]" },
      { provider_name: "shop", params: { shop: "acme", host: attacker.hostPort }, field: "params[host]" },
    ];

    test("REST: RequestConnection with attack params is InvalidArgument naming the param", async () => {
      for (const { field, ...attack } of attacks()) {
        const answer = await requestConnection(server, { user_id: "u1", return_url: RETURN_URL, ...attack });
        assert.equal(answer.status, 400, JSON.stringify(answer.body));
        assert.ok(JSON.stringify(answer.body).includes(field), `${field}: ${JSON.stringify(answer.body)}`);
      }
      assertAttackerSawNothing();
    });

    for (const [protocol, transport] of Object.entries(transports)) {
      test(`${protocol}: RequestConnection with attack params is InvalidArgument naming the param`, async () => {
        const client = createClient(ConnectionService, transport());
        for (const { field, provider_name, params } of attacks()) {
          const err = await rejected(
            client.requestConnection({ userId: "u1", providerName: provider_name, returnUrl: RETURN_URL, params }),
          );
          assert.equal(err.code, Code.InvalidArgument, `${field}: ${err.message}`);
          assert.equal(err.findDetails(ErrorInfoSchema)[0]?.field, field);
        }
        assertAttackerSawNothing();
      });

      test(`${protocol}: without params the authorization URL is on the operator's host`, async () => {
        const answer = await createClient(ConnectionService, transport()).requestConnection({
          userId: "u1",
          providerName: "corp-idp",
          returnUrl: RETURN_URL,
        });
        assert.equal(new URL(answer.authUrl).origin, idp.issuer);
      });
    }

    test("the consent, code exchange and refresh all go to the operator's host, never to the attacker", async () => {
      const started = await requestConnection(server, { user_id: "u2", provider_name: "corp-idp", return_url: RETURN_URL });
      assert.equal(started.status, 200, JSON.stringify(started.body));
      const authUrl = new URL(started.body.authUrl);
      assert.equal(authUrl.origin, idp.issuer);
      const state = authUrl.searchParams.get("state") ?? "";
      const peeked = await createConsentStates({ store: server.app.store, vault: server.app.vault, now: Date.now }).peek(state);
      if (peeked?.secrets?.codeVerifier) secrets.add(peeked.secrets.codeVerifier);
      assert.ok(peeked?.secrets?.codeVerifier, "PKCE is in use");

      const result = await driveConsent(started.body.authUrl, { stopAt: RETURN_URL });
      for (const url of result.visited) {
        const code = new URL(url).searchParams.get("code");
        if (code) secrets.add(code);
      }
      assert.equal(new URL(result.url).searchParams.get("status"), "success", result.url);
      const exchanges = idp.tokenRequests.filter((r) => r.grantType === "authorization_code" && r.outcome === "issued");
      assert.equal(exchanges.length, 1, "the operator's provider redeemed the code");

      const refreshed = await fetch(`${server.baseUrl}/v1/refresh/${started.body.connection_id}`, {
        method: "POST",
        headers: server.auth(),
      });
      assert.equal(refreshed.status, 200, await refreshed.text());
      assert.ok(
        idp.tokenRequests.some((r) => r.grantType === "refresh_token" && r.outcome === "issued"),
        "the refresh went to the operator's provider",
      );

      assertAttackerSawNothing();
      const seen = attacker.requests.map((r) => r.url + r.headers + r.body).join("\n");
      for (const value of secrets) assert.ok(!seen.includes(value));
      assert.ok(secrets.size >= 3, "client secret, verifier and code were collected");
    });

    test("a profile stored before the rule still cannot be steered: filling refuses the host slot", async () => {
      const name = "legacy-okta";
      const legacy = {
        name,
        displayName: name,
        category: "",
        authType: "oauth2",
        urlParams: ["domain"],
        oauth: {
          ...steerable.oauth,
          issuer: "https://{domain}",
          clientId: "c",
          defaultScopes: [],
          authorizeParams: {},
          tokenParams: {},
          clientAuthMethod: "client_secret_basic",
          pkce: true,
          scopeSeparator: " ",
          omitScopeOnExchange: false,
        },
        strategy: { type: "oauth2" },
      };
      delete (legacy.oauth as Record<string, unknown>).token_endpoint;
      delete (legacy.oauth as Record<string, unknown>).client_id;
      delete (legacy.oauth as Record<string, unknown>).client_secret;
      delete (legacy.oauth as Record<string, unknown>).client_auth_method;
      await server.app.store.createProvider({
        name,
        profile: legacy,
        clientSecret: server.app.vault.seal("legacy-secret", clientSecretAad(name)),
      });
      for (const transport of Object.values(transports)) {
        const err = await rejected(
          createClient(ConnectionService, transport()).requestConnection({
            userId: "u3",
            providerName: name,
            returnUrl: RETURN_URL,
            params: { domain: "attacker" },
          }),
        );
        assert.equal(err.code, Code.FailedPrecondition, err.message);
        assert.equal(err.findDetails(ErrorInfoSchema)[0]?.reason, ErrorReason.PROVIDER_MISCONFIGURED);
      }
      assertAttackerSawNothing();
    });

    test("no secret appears in the server's logs", () => {
      const logs = server.logs();
      for (const value of secrets) assert.ok(!logs.includes(value), "a secret value is logged");
    });
  });
});
