/**
 * RevokeConnection against a real OpenID Provider: the grant is revoked at the provider's RFC 7009
 * endpoint, the stored secrets are deleted, the connection is revoked for good, and GetToken refuses.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createOAuthClient } from "../server/oauth/oauth-client.ts";
import { classifyTokenFailure } from "../server/oauth/token-failure.ts";
import { createProviderDirectory } from "../server/providers/provider-directory.ts";
import { getJson, postJson } from "./support/consent-fixtures.ts";
import { type ConsentRig, startConsentRig } from "./support/consent-rig.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/revoke-connection.test.ts", () => {
  let rig: ConsentRig;
  before(async () => {
    rig = await startConsentRig();
  });
  after(() => rig?.close());

  test("revoke: provider revocation, secrets deleted, token refused, idempotent", async () => {
    const started = await rig.start("test-idp", { scopes: ["openid", "offline_access"] });
    const result = await rig.drive(started.authUrl);
    assert.equal(new URL(result.url).searchParams.get("status"), "success");
    const id = started.connection_id;
    const tokens = await rig.openCredential(rig.server, id);
    assert.ok(tokens.refreshToken, "offline_access gave a refresh token");

    const revoked = await postJson<{ connection: { status: string }; provider_revoked?: boolean }>(
      rig.server,
      `/v1/connections/${id}:revoke`,
      {},
    );
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    assert.equal(revoked.body.connection.status, "revoked");
    assert.equal(revoked.body.provider_revoked, true);

    assert.equal(await rig.server.app.store.getCredential(id), null, "secrets deleted");
    assert.deepEqual(
      (await getJson(rig.server, `/v1/check-connection/${id}`)).body,
      { status: "revoked", account: { id: "alice" } },
      "the account stays known after revocation",
    );
    const token = await getJson<{ code: string }>(rig.server, `/v1/token/${id}`);
    assert.equal(token.status, 400);
    assert.equal(token.body.code, "failed_precondition");

    // The provider really dropped the grant: the old refresh token is now a dead grant.
    const directory = createProviderDirectory({ store: rig.server.app.store, vault: rig.server.app.vault });
    const { provider, clientSecret } = await directory.getWithSecret("test-idp");
    const oauth = createOAuthClient({ now: Date.now });
    const resolved = await oauth.resolve(provider.profile, clientSecret, {});
    const failure = await oauth.refresh(resolved, tokens.refreshToken).then(
      () => assert.fail("refresh after revoke must fail"),
      (err: unknown) => classifyTokenFailure(err),
    );
    assert.equal(failure.error, "invalid_grant");

    const again = await postJson<{ connection: { status: string }; provider_revoked?: boolean }>(
      rig.server,
      `/v1/connections/${id}:revoke`,
      {},
    );
    assert.equal(again.status, 200);
    assert.equal(again.body.provider_revoked, undefined, "nothing left to revoke");
    rig.assertNoSecretsLogged();
  });

  test("revoking an unknown connection is NotFound", async () => {
    const answer = await postJson<{ code: string }>(rig.server, "/v1/connections/conn_nope:revoke", {});
    assert.equal(answer.status, 404);
    assert.equal(answer.body.code, "not_found");
  });
});
