import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError } from "../domain/errors.ts";
import { createSqliteStore } from "../store/sqlite/store.ts";
import type { Store } from "../store/store.ts";
import { generateKeyringText, parseKeyring } from "../vault/keyring.ts";
import { createVault } from "../vault/vault.ts";
import { clientSecretAad } from "./profile.ts";
import { createProviderDirectory, type ProviderDirectory } from "./provider-directory.ts";
import { createProfileValidator } from "./validate-profile.ts";

const SECRET = "client-secret-value-7f3a";

const oauthInput = (name = "acme") => ({
  name,
  displayName: "Acme",
  authType: "oauth2" as const,
  oauth: { authorizationEndpoint: "https://acme.example/authorize", tokenEndpoint: "https://acme.example/token", clientId: "cid" },
  strategy: { type: "oauth2" as const },
});

describe("provider directory", () => {
  let store: Store;
  let directory: ProviderDirectory;
  const vault = createVault(parseKeyring(generateKeyringText("k1")));

  before(async () => {
    store = await createSqliteStore({ path: ":memory:", now: Date.now });
    await store.ensureTenant({ id: "t1" });
    directory = createProviderDirectory({ store, vault });
  });
  after(() => store.close());

  test("create stores the validated profile and seals the secret with the provider's AAD", async () => {
    const stored = await directory.create(oauthInput(), SECRET);
    assert.equal(stored.hasClientSecret, true);
    assert.equal(stored.profile.oauth?.clientAuthMethod, "client_secret_basic");
    const record = await store.getProvider("acme");
    assert.ok(record.clientSecret);
    assert.ok(!Buffer.from(record.clientSecret.ciphertext).toString("latin1").includes(SECRET));
    assert.ok(!JSON.stringify(record.profile).includes(SECRET));
    assert.equal(vault.open(record.clientSecret, clientSecretAad("acme")).toString(), SECRET);
    assert.equal((record.profile as { oauth: { pkce: boolean } }).oauth.pkce, true, "defaults are stored");
  });

  test("names are case-insensitive and stored lower-case", async () => {
    const stored = await directory.create({ ...oauthInput("MixedCase") });
    assert.equal(stored.profile.name, "mixedcase");
    assert.equal((await directory.get("MIXEDCASE")).profile.name, "mixedcase");
    await assert.rejects(directory.create(oauthInput("mixedCASE")), AlreadyExistsError);
  });

  test("getWithSecret opens the secret; get never carries it", async () => {
    const { provider, clientSecret } = await directory.getWithSecret("ACME");
    assert.equal(clientSecret, SECRET);
    assert.ok(!JSON.stringify(provider).includes(SECRET));
    assert.equal((await directory.getWithSecret("mixedcase")).clientSecret, undefined);
    await assert.rejects(directory.get("missing"), NotFoundError);
  });

  test("create validates before writing", async () => {
    await assert.rejects(
      directory.create({ ...oauthInput("bad"), oauth: { ...oauthInput().oauth, tokenEndpoint: "http://x.example" } }),
      (err: unknown) => {
        assert.ok(err instanceof InvalidArgumentError);
        assert.equal(err.field, "provider.oauth.token_endpoint");
        return true;
      },
    );
    await assert.rejects(store.getProvider("bad"), NotFoundError);
  });

  test("update applies the mask and re-validates the merged profile", async () => {
    const updated = await directory.update("acme", {
      patch: { ...oauthInput(), displayName: "Acme Corp", oauth: { defaultScopes: ["read", "write"] } },
      paths: ["display_name", "oauth.default_scopes"],
    });
    assert.equal(updated.profile.displayName, "Acme Corp");
    assert.deepEqual(updated.profile.oauth?.defaultScopes, ["read", "write"]);
    assert.equal(updated.profile.oauth?.clientId, "cid");
    assert.equal(updated.hasClientSecret, true, "an update that does not name the secret keeps it");
    await assert.rejects(
      directory.update("acme", { patch: { ...oauthInput(), oauth: { tokenEndpoint: "ftp://x" } }, paths: ["oauth.token_endpoint"] }),
      (err: unknown) => err instanceof InvalidArgumentError && err.field === "provider.oauth.token_endpoint",
    );
    await assert.rejects(
      directory.update("acme", { patch: { ...oauthInput(), oauth: {} }, paths: ["oauth.client_id"] }),
      (err: unknown) => err instanceof InvalidArgumentError && err.field === "provider.oauth.client_id",
      "clearing client_id is refused",
    );
  });

  test("update rotates and removes the client secret", async () => {
    await directory.update("acme", { patch: oauthInput(), paths: ["oauth.client_secret"], clientSecret: "rotated-secret" });
    assert.equal((await directory.getWithSecret("acme")).clientSecret, "rotated-secret");
    await assert.rejects(
      directory.update("acme", { patch: oauthInput(), paths: ["oauth.client_secret"], clientSecret: "" }),
      (err: unknown) => err instanceof InvalidArgumentError && err.field === "provider.oauth.client_secret",
      "client_secret_basic without a secret is refused",
    );
    const removed = await directory.update("acme", {
      patch: { ...oauthInput(), oauth: { clientAuthMethod: "none" } },
      paths: ["oauth.client_secret", "oauth.client_auth_method"],
      clientSecret: "",
    });
    assert.equal(removed.hasClientSecret, false);
    assert.equal(removed.profile.oauth?.clientAuthMethod, "none");
    assert.equal((await store.getProvider("acme")).clientSecret, null);
  });

  test("delete refuses while connections use the provider, unless forced", async () => {
    await directory.create(oauthInput("used"));
    await store.createConnection({ tenantId: "t1", userId: "u", providerName: "used" });
    await assert.rejects(directory.delete("used", false), FailedPreconditionError);
    await directory.delete("USED", true);
    await assert.rejects(directory.get("used"), NotFoundError);
    await assert.rejects(directory.delete("used", true), NotFoundError);
  });

  test("list pages through stored providers", async () => {
    const first = await directory.list({ pageSize: 1 });
    assert.equal(first.items.length, 1);
    assert.notEqual(first.nextPageToken, "");
    const rest = await directory.list({ pageSize: 10, pageToken: first.nextPageToken });
    assert.deepEqual(
      [...first.items, ...rest.items].map((p) => p.profile.name),
      ["acme", "mixedcase"],
    );
  });

  test("getWithSecret validates a stored profile once, and again whenever another writer changed it", async () => {
    let validations = 0;
    const counting = createProfileValidator();
    const counted = createProviderDirectory({
      store,
      vault,
      validator: {
        validate: (input, options) => {
          validations += 1;
          return counting.validate(input, options);
        },
      },
    });
    await directory.create(oauthInput("cached"), SECRET);
    const first = await counted.getWithSecret("cached");
    const second = await counted.getWithSecret("cached");
    assert.equal(validations, 1);
    assert.deepEqual(second, first);
    // Another replica (here: another directory over the same store) changes the profile, then the secret.
    await directory.update("cached", { patch: { ...oauthInput("cached"), displayName: "Cached v2" }, paths: ["display_name"] });
    assert.equal((await counted.getWithSecret("cached")).provider.profile.displayName, "Cached v2");
    await directory.update("cached", {
      patch: { ...oauthInput("cached"), oauth: { clientAuthMethod: "none" } },
      paths: ["oauth.client_secret", "oauth.client_auth_method"],
      clientSecret: "",
    });
    const withoutSecret = await counted.getWithSecret("cached");
    assert.equal(withoutSecret.clientSecret, undefined);
    assert.equal(withoutSecret.provider.hasClientSecret, false);
    assert.equal(validations, 3);
  });
});
