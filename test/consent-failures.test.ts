/**
 * Consent that must fail, against a real OpenID Provider: the user cancels, the id_token's nonce,
 * issuer or signature is wrong (mix-up and impostor providers), the client authenticates with the
 * wrong method, the return_url is off the allowlist, the provider has no client_id; and the
 * client-credentials grant, good and misconfigured. Ends with a scan of the logs for secrets.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { ConsentDriveOptions } from "./support/consent-driver.ts";
import { getJson, postJson, requestConnection } from "./support/consent-fixtures.ts";
import { type ConsentRig, RETURN_PREFIX, RETURN_URL, startConsentRig } from "./support/consent-rig.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/consent-failures.test.ts", () => {
  let rig: ConsentRig;
  before(async () => {
    rig = await startConsentRig();
  });
  after(() => rig?.close());

  describe("consent failures return to the app with status=error", () => {
    const landing = async (provider: string, options: Partial<ConsentDriveOptions> = {}) => {
      const started = await rig.start(provider);
      const result = await rig.drive(started.authUrl, options);
      const url = new URL(result.url);
      assert.equal(url.origin + url.pathname, RETURN_PREFIX, `landed on ${result.url.split("?")[0]} (${result.status})`);
      assert.equal(url.searchParams.get("status"), "error");
      assert.equal(url.searchParams.get("connection_id"), started.connection_id);
      const connection = await rig.server.app.store.getConnection("default", started.connection_id);
      return { error: url.searchParams.get("error"), connection };
    };

    test("the user cancels at the provider: error=access_denied, connection failed", async () => {
      const { error, connection } = await landing("test-idp", { abort: true });
      assert.equal(error, "access_denied");
      assert.equal(connection.status, "failed");
      assert.equal(connection.statusReason, "access_denied");
      assert.equal(await rig.server.app.store.getCredential(connection.id), null);
    });

    test("a failed connection can be reconnected under the same id", async () => {
      const { connection } = await landing("test-idp", { abort: true });
      const answer = await postJson<{ authUrl: string }>(rig.server, `/v1/connections/${connection.id}:reconnect`, {
        return_url: RETURN_URL,
      });
      assert.equal(answer.status, 200);
      await rig.remember(rig.server, answer.body.authUrl);
      assert.equal(new URL((await rig.drive(answer.body.authUrl)).url).searchParams.get("connection_id"), connection.id);
      assert.equal((await rig.server.app.store.getConnection("default", connection.id)).status, "active");
    });

    test("an id_token whose nonce differs from the one sent: error=invalid_id_token", async () => {
      const rewrite = (url: string) => {
        if (!url.startsWith(`${rig.idp.issuer}/auth?`)) return url;
        const tampered = new URL(url);
        tampered.searchParams.set("nonce", "attacker-chosen-nonce");
        return tampered.href;
      };
      const { error, connection } = await landing("test-idp", { rewrite });
      assert.equal(error, "invalid_id_token");
      assert.equal(connection.status, "failed");
      assert.equal(await rig.server.app.store.getCredential(connection.id), null);
    });

    test("a token endpoint of another issuer (mix-up): its id_token is refused, error=invalid_id_token", async () => {
      const { error, connection } = await landing("mixup-token");
      assert.equal(error, "invalid_id_token");
      assert.equal(connection.status, "failed");
    });

    test("an id_token with the right claims but a signature the issuer's JWKS doesn't verify: error=invalid_id_token", async () => {
      const { error, connection } = await landing("forged-signature");
      assert.equal(error, "invalid_id_token");
      assert.equal(connection.status, "failed");
    });

    test("an authorization response from another issuer (RFC 9207 iss): error=invalid_response", async () => {
      const { error, connection } = await landing("mixup-authz");
      assert.equal(error, "invalid_response");
      assert.equal(connection.status, "failed");
    });

    test("client_secret_post against a client_secret_basic registration: exchange_failed, blamed on configuration", async () => {
      const { error, connection } = await landing("wrong-auth");
      assert.equal(error, "exchange_failed");
      assert.equal(connection.status, "failed");
      assert.equal(connection.statusReason, "invalid_client");
      const line = rig.server
        .logs()
        .split("\n")
        .find((l) => l.includes(connection.id) && l.includes("consent failed"));
      assert.ok(line, "the failure is logged");
      const logged = JSON.parse(line) as { failure?: { blame?: string; error?: string } };
      assert.equal(logged.failure?.blame, "provider_config");
      assert.equal(logged.failure?.error, "invalid_client");
    });
  });

  describe("requests refused before anything is created", () => {
    test("a return_url off the allowlist → invalid_argument, and no connection exists afterwards", async () => {
      const before = (await getJson<{ connections?: unknown[] }>(rig.server, "/v1/connections")).body.connections?.length ?? 0;
      const answer = await requestConnection(rig.server, {
        user_id: "u",
        provider_name: "test-idp",
        return_url: "https://evil.example/cb",
      });
      assert.equal(answer.status, 400);
      assert.equal(answer.body.code, "invalid_argument");
      const after = (await getJson<{ connections?: unknown[] }>(rig.server, "/v1/connections")).body.connections?.length ?? 0;
      assert.equal(after, before);
    });

    test("a provider without client_id → failed_precondition naming it", async () => {
      await rig.server.app.store.createProvider({
        name: "no-client",
        profile: {
          name: "no-client",
          displayName: "No client",
          category: "",
          authType: "oauth2",
          oauth: {
            issuer: rig.idp.issuer,
            clientId: "",
            defaultScopes: [],
            authorizeParams: {},
            tokenParams: {},
            clientAuthMethod: "none",
            pkce: true,
            scopeSeparator: " ",
            omitScopeOnExchange: false,
          },
          strategy: { type: "oauth2" },
          urlParams: [],
        },
      });
      const answer = await requestConnection(rig.server, { user_id: "u", provider_name: "no-client", return_url: RETURN_URL });
      assert.equal(answer.status, 400);
      assert.equal(answer.body.code, "failed_precondition");
      assert.match(answer.body.message ?? "", /provider no-client has no client_id configured/);
    });
  });

  describe("client credentials", () => {
    test("the connection is active at once, with an empty authUrl and a sealed token", async () => {
      const answer = await requestConnection(rig.server, { user_id: "svc", provider_name: "machine" });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.body.authUrl ?? "", "");
      assert.equal(answer.body.status, "active");
      const tokens = await rig.openCredential(rig.server, answer.body.connection_id);
      assert.ok(tokens.accessToken);
      assert.equal(tokens.refreshToken, undefined);
    });

    test("a wrong client-auth method → failed_precondition, connection failed with invalid_client", async () => {
      const answer = await requestConnection(rig.server, { user_id: "svc", provider_name: "machine-wrong-auth" });
      assert.equal(answer.status, 400);
      assert.equal(answer.body.code, "failed_precondition");
      const page = await getJson<{
        connections: { connection_id: string; status: string; status_reason: string; provider_name: string }[];
      }>(rig.server, "/v1/connections?provider_name=machine-wrong-auth");
      assert.equal(page.body.connections.length, 1);
      assert.equal(page.body.connections[0]?.status, "failed");
      assert.equal(page.body.connections[0]?.status_reason, "invalid_client");
    });
  });

  test("no code, state, verifier, nonce, token or client secret appears in the server logs", () => {
    assert.ok(rig.secrets.size > 12, `collected ${rig.secrets.size} secret values`);
    rig.assertNoSecretsLogged();
  });
});
