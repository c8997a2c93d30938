/**
 * GetToken serves the seed's credential payload over REST, Connect and gRPC: usage secrets only,
 * `expires_at` a JSON number, strategy type lower-case on REST; never a refresh token or id_token,
 * and never an expired access token.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { StrategyType } from "../gen/nexus/v1/credential_pb.ts";
import { TokenService } from "../gen/nexus/v1/tokens_pb.ts";
import { credentialAad, encodeStoredSecret, type StoredSecret } from "../server/domain/stored-secret.ts";
import type { OAuthSettings, ProviderProfile } from "../server/providers/profile.ts";
import { oauthSettings } from "./support/oauth-settings.ts";
import { startServer, type TestServer } from "./support/start-server.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/get-token.test.ts", () => {
  let server: TestServer;
  /** A valid (never contacted) OAuth profile: these tests hold tokens without refresh tokens. */
  const OAUTH: OAuthSettings = oauthSettings({
    authorizationEndpoint: "http://127.0.0.1:9/authorize",
    tokenEndpoint: "http://127.0.0.1:9/token",
    clientId: "client",
  });
  const expiresAt = Math.floor(Date.now() / 1000) + 3600;

  async function seed(providerName: string, profile: Partial<ProviderProfile>, secret: StoredSecret): Promise<string> {
    const { store, vault } = server.app;
    await store
      .createProvider({
        name: providerName,
        profile: { name: providerName, displayName: providerName, category: "test", urlParams: [], ...profile } as never,
      })
      .catch(() => undefined);
    const connection = await store.createConnection({ tenantId: "default", userId: "u", providerName, status: "active" });
    await store.saveCredential(connection.id, 0, {
      secret: vault.seal(encodeStoredSecret(secret), credentialAad(connection.id, 1)),
      expiresAtSeconds: secret.expiresAtSeconds ?? null,
    });
    return connection.id;
  }

  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  test("oauth2: REST has exactly the seed's shape and no master secrets", async () => {
    const id = await seed(
      "idp",
      { authType: "oauth2", strategy: { type: "oauth2" }, oauth: OAUTH },
      {
        kind: "oauth2",
        accessToken: "access-1",
        tokenType: "Bearer",
        refreshToken: "refresh-SECRET",
        idToken: "id-SECRET",
        expiresAtSeconds: expiresAt,
      },
    );
    const res = await fetch(`${server.baseUrl}/v1/token/${id}`, { headers: server.auth() });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.doesNotMatch(text, /SECRET/);
    assert.deepEqual(JSON.parse(text), {
      strategy: { type: "oauth2" },
      credentials: { access_token: "access-1", expires_at: expiresAt },
      expires_at: expiresAt,
      version: 1,
      connection_id: id,
    });

    const grpc = createClient(TokenService, createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [server.bearer()] }));
    const { credential } = await grpc.getToken({ connectionId: id });
    assert.equal(credential?.strategy?.type, StrategyType.OAUTH2);
    assert.equal(credential?.credentials?.access_token, "access-1");
    assert.equal(credential?.expiresAt, BigInt(expiresAt));
  });

  test("basic_auth: static fields, no expires_at", async () => {
    const id = await seed(
      "twilio-test",
      { authType: "basic_auth", strategy: { type: "basic_auth", usernameField: "account_sid", passwordField: "auth_token" } },
      { kind: "fields", fields: { account_sid: "AC1", auth_token: "tok" } },
    );
    const body = await (await fetch(`${server.baseUrl}/v1/token/${id}`, { headers: server.auth() })).json();
    assert.deepEqual(body, {
      strategy: { type: "basic_auth", basic_auth: { username_field: "account_sid", password_field: "auth_token" } },
      credentials: { account_sid: "AC1", auth_token: "tok" },
      version: 1,
      connection_id: id,
    });
  });

  test("an expired access token without a refresh token is never served: the connection is expired", async () => {
    const id = await seed(
      "idp2",
      { authType: "oauth2", strategy: { type: "oauth2" }, oauth: OAUTH },
      { kind: "oauth2", accessToken: "stale", tokenType: "Bearer", expiresAtSeconds: Math.floor(Date.now() / 1000) - 5 },
    );
    const res = await fetch(`${server.baseUrl}/v1/token/${id}`, { headers: server.auth() });
    assert.notEqual(res.status, 200);
    assert.doesNotMatch(await res.text(), /stale/);
    const grpc = createClient(TokenService, createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [server.bearer()] }));
    const err = await grpc.getToken({ connectionId: id }).catch((e: unknown) => ConnectError.from(e));
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, Code.FailedPrecondition);
    const connection = await server.app.store.findConnectionById(id);
    assert.equal(connection?.status, "expired");
    assert.equal(connection?.statusReason, "no_refresh_token");
  });
});
