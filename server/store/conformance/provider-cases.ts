/**
 * Conformance cases for provider profiles: the profile JSON and sealed client secret round-trip,
 * partial updates, deletion, paging by name, and the in-use check.
 */
import assert from "node:assert/strict";
import { AlreadyExistsError, NotFoundError } from "../../domain/errors.ts";
import type { JsonObject } from "../store.ts";
import { assertRejectsWith, collectPages, hexOf, START_TIME_MS, type StoreHarness, sealed, seedConnection } from "./harness.ts";

const PROFILE: JsonObject = {
  displayName: "Google",
  authType: "oauth2",
  oauth: { clientId: "client-1", defaultScopes: ["openid", "email"], pkce: true },
  urlParams: [],
  nested: { n: 1.5, flag: false, none: null },
};

/** Declares the provider cases. */
export function describeProviderCases(h: StoreHarness): void {
  h.test("createProvider and getProvider round-trip the profile and sealed secret", async () => {
    const created = await h.store().createProvider({ name: "google", profile: PROFILE, clientSecret: sealed("cs") });
    assert.equal(created.name, "google");
    assert.deepEqual(created.profile, PROFILE);
    assert.equal(hexOf(created.clientSecret), hexOf(sealed("cs")));
    assert.equal(created.clientSecret?.keyId, "key-1");
    assert.equal(created.createdAtMs, START_TIME_MS);
    assert.equal(created.updatedAtMs, START_TIME_MS);
    const read = await h.store().getProvider("google");
    assert.deepEqual({ ...read, clientSecret: hexOf(read.clientSecret) }, { ...created, clientSecret: hexOf(created.clientSecret) });
  });

  h.test("createProvider without a secret stores none", async () => {
    await h.store().createProvider({ name: "stripe", profile: { authType: "api_key" } });
    assert.equal((await h.store().getProvider("stripe")).clientSecret, null);
  });

  h.test("createProvider with a taken name is AlreadyExists", async () => {
    await h.store().createProvider({ name: "google", profile: PROFILE });
    await assertRejectsWith(h.store().createProvider({ name: "google", profile: {} }), AlreadyExistsError, (error) => {
      assert.equal(error.kind, "provider");
    });
  });

  h.test("getProvider of a missing provider is NotFound", async () => {
    await assertRejectsWith(h.store().getProvider("nope"), NotFoundError, (error) => {
      assert.equal(error.kind, "provider");
      assert.equal(error.id, "nope");
    });
  });

  h.test("updateProvider changes only the given fields", async () => {
    await h.store().createProvider({ name: "google", profile: PROFILE, clientSecret: sealed("old") });
    h.clock.advance(5000);
    const profileOnly = await h.store().updateProvider("google", { profile: { displayName: "G" } });
    assert.deepEqual(profileOnly.profile, { displayName: "G" });
    assert.equal(hexOf(profileOnly.clientSecret), hexOf(sealed("old")));
    assert.equal(profileOnly.createdAtMs, START_TIME_MS);
    assert.equal(profileOnly.updatedAtMs, START_TIME_MS + 5000);
    const secretOnly = await h.store().updateProvider("google", { clientSecret: sealed("new", "key-2") });
    assert.deepEqual(secretOnly.profile, { displayName: "G" });
    assert.equal(hexOf(secretOnly.clientSecret), hexOf(sealed("new")));
    assert.equal(secretOnly.clientSecret?.keyId, "key-2");
  });

  h.test("updateProvider with clientSecret null removes the secret", async () => {
    await h.store().createProvider({ name: "google", profile: PROFILE, clientSecret: sealed("cs") });
    const updated = await h.store().updateProvider("google", { clientSecret: null });
    assert.equal(updated.clientSecret, null);
    assert.equal((await h.store().getProvider("google")).clientSecret, null);
  });

  h.test("updateProvider of a missing provider is NotFound", async () => {
    await assertRejectsWith(h.store().updateProvider("nope", { profile: {} }), NotFoundError);
  });

  h.test("deleteProvider removes it and a second delete is NotFound", async () => {
    await h.store().createProvider({ name: "google", profile: PROFILE });
    await h.store().deleteProvider("google");
    await assertRejectsWith(h.store().getProvider("google"), NotFoundError);
    await assertRejectsWith(h.store().deleteProvider("google"), NotFoundError);
  });

  h.test("listProviders pages by name without duplicates or gaps", async () => {
    const names = ["zendesk", "github", "google", "airtable", "shopify", "xero", "slack"];
    for (const name of names) await h.store().createProvider({ name, profile: { name } });
    const { items, pages } = await collectPages(3, (pageToken) => h.store().listProviders({ pageSize: 3, pageToken }));
    assert.deepEqual(
      items.map((p) => p.name),
      [...names].sort(),
    );
    assert.equal(pages, 3);
    const exact = await h.store().listProviders({ pageSize: 7 });
    assert.equal(exact.items.length, 7);
    assert.equal(exact.nextPageToken, "", "a full last page carries no token");
  });

  h.test("isProviderInUse reports connections of any tenant", async () => {
    await h.store().createProvider({ name: "google", profile: PROFILE });
    assert.equal(await h.store().isProviderInUse("google"), false);
    await seedConnection(h.store(), "tenant-b", { providerName: "google" });
    assert.equal(await h.store().isProviderInUse("google"), true);
    assert.equal(await h.store().isProviderInUse("github"), false);
  });
}
