import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { AuthType, ClientAuthMethod, ProviderSchema } from "../../gen/nexus/v1/providers_pb.ts";
import { InvalidArgumentError } from "../domain/errors.ts";
import { loadProviderCatalog } from "../providers/catalog.ts";
import { createProfileValidator } from "../providers/validate-profile.ts";
import { presentPaths, profileToProto, providerFromProto, storedProviderToProto } from "./proto-profile.ts";

test("every catalog preset survives profile → proto → profile", () => {
  const validator = createProfileValidator();
  for (const preset of loadProviderCatalog().list()) {
    const back = validator.validate(providerFromProto(profileToProto(preset)), { purpose: "preset" });
    assert.deepEqual(back, preset, preset.name);
  }
});

test("output carries has_client_secret and times, never a client secret", () => {
  const preset = loadProviderCatalog().get("google")!;
  const proto = storedProviderToProto({
    profile: preset,
    hasClientSecret: true,
    createdAtMs: 1_700_000_000_000,
    updatedAtMs: 1_700_000_001_000,
  });
  assert.equal(proto.oauth?.hasClientSecret, true);
  assert.equal(proto.oauth?.clientSecret, "");
  assert.equal(proto.createTime?.seconds, 1_700_000_000n);
  assert.equal(proto.authType, AuthType.OAUTH2);
  assert.equal(proto.oauth?.clientAuthMethod, ClientAuthMethod.CLIENT_SECRET_POST);
});

test("input: unknown enum numbers are invalid arguments with their path; names are lower-cased", () => {
  assert.throws(
    () => providerFromProto(create(ProviderSchema, { name: "x", authType: 9 as AuthType })),
    (err: unknown) => err instanceof InvalidArgumentError && err.field === "provider.auth_type",
  );
  assert.equal(providerFromProto(create(ProviderSchema, { name: "GitHub" })).name, "github");
});

test("presentPaths lists the fields set in a request", () => {
  const provider = create(ProviderSchema, {
    name: "x",
    displayName: "X",
    oauth: { clientSecret: "s", pkce: false, defaultScopes: ["a"] },
    strategy: {},
  });
  assert.deepEqual(presentPaths(provider), ["display_name", "oauth.client_secret", "oauth.default_scopes", "oauth.pkce", "strategy"]);
  assert.deepEqual(presentPaths(create(ProviderSchema, { name: "x" })), []);
  assert.deepEqual(presentPaths(create(ProviderSchema, { name: "x", urlParams: ["shop"], operatorParams: { domain: "d.example" } })), [
    "url_params",
    "operator_params",
  ]);
});

test("api_base_url and proxy_timeouts survive profile → proto → profile; zero timeouts mean the default", () => {
  const profile = loadProviderCatalog().get("github")!;
  const withTimeouts = { ...profile, proxyTimeouts: { connectMs: 250, idleMs: 9_000 } };
  const proto = profileToProto(withTimeouts);
  assert.equal(proto.apiBaseUrl, "https://api.github.com");
  assert.deepEqual(
    { ...proto.proxyTimeouts, $typeName: undefined },
    { $typeName: undefined, connectMs: 250, firstByteMs: 0, idleMs: 9_000, totalMs: 0 },
  );
  const back = providerFromProto(proto);
  assert.equal(back.apiBaseUrl, "https://api.github.com");
  assert.deepEqual(back.proxyTimeouts, { connectMs: 250, idleMs: 9_000 });
  assert.ok(presentPaths(proto).includes("api_base_url") && presentPaths(proto).includes("proxy_timeouts"));
});
