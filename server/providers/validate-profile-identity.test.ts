import assert from "node:assert/strict";
import { test } from "node:test";
import { InvalidArgumentError } from "../domain/errors.ts";
import { applyUpdateMask } from "./update-mask.ts";
import { createProfileValidator } from "./validate-profile.ts";

const validator = createProfileValidator();

const profile = (extra: Record<string, unknown>, authType = "oauth2") => ({
  name: "acme",
  authType,
  oauth: {
    authorizationEndpoint: "https://acme.example/authorize",
    tokenEndpoint: "https://acme.example/token",
    clientId: "c",
    clientAuthMethod: "client_secret_basic",
  },
  urlParams: ["shop"],
  operatorParams: { region: "eu" },
  strategy: { type: "oauth2" },
  ...extra,
});

function problem(input: unknown): [string, string] {
  try {
    validator.validate(input, { purpose: "preset" });
  } catch (err) {
    assert.ok(err instanceof InvalidArgumentError, String(err));
    return [err.field, err.message];
  }
  assert.fail("expected an InvalidArgumentError");
}

test("account_lookup and connection_extras are kept as given, with absent optionals left out", () => {
  const validated = validator.validate(
    profile({
      accountLookup: { url: "https://{shop}.acme.example/{region}/me", idPointer: "/id", displayNamePointer: "/login" },
      connectionExtras: [
        { name: "realm_id", callbackParam: "realmId" },
        { name: "team_id", tokenPointer: "/team/id" },
      ],
    }),
    { purpose: "preset" },
  );
  assert.deepEqual(validated.accountLookup, {
    url: "https://{shop}.acme.example/{region}/me",
    idPointer: "/id",
    displayNamePointer: "/login",
  });
  assert.deepEqual(validated.connectionExtras, [
    { name: "realm_id", callbackParam: "realmId" },
    { name: "team_id", tokenPointer: "/team/id" },
  ]);
  const bare = validator.validate(profile({ connectionExtras: [] }), { purpose: "preset" });
  assert.equal(bare.accountLookup, undefined);
  assert.equal(bare.connectionExtras, undefined);
});

test("account_lookup follows the endpoint rules (https, placeholders declared, a connection fills one DNS label)", () => {
  const lookup = (url: string, more: Record<string, unknown> = {}) => profile({ accountLookup: { url, idPointer: "/id", ...more } });
  assert.deepEqual(problem(lookup("http://acme.example/me")), [
    "provider.account_lookup.url",
    "provider.account_lookup.url: must use https (http is allowed only for localhost, 127.0.0.1 and [::1])",
  ]);
  assert.equal(problem(lookup("https://acme.example/{nope}/me"))[0], "provider.account_lookup.url");
  assert.equal(problem(lookup("https://{shop}/me"))[0], "provider.account_lookup.url", "a connection may not choose a whole host");
  assert.equal(problem(lookup("https://user:pw@acme.example/me"))[0], "provider.account_lookup.url");
  assert.equal(problem(lookup("https://acme.example/me", { idPointer: "id" }))[0], "provider.account_lookup.id_pointer");
  assert.equal(problem(lookup("https://acme.example/me", { emailPointer: "/a~2" }))[0], "provider.account_lookup.email_pointer");
  assert.equal(problem(profile({ accountLookup: { url: "https://acme.example/me" } }))[0], "provider.account_lookup.id_pointer");
  assert.equal(
    problem(profile({ accountLookup: { url: "https://acme.example/me", idPointer: "/id", extra: 1 } }))[0],
    "provider.account_lookup.extra",
  );
  assert.doesNotThrow(() => validator.validate(lookup("http://127.0.0.1:8080/me"), { purpose: "preset" }));
});

test("connection_extras: a name, exactly one source, no duplicates, only for oauth2", () => {
  const extras = (list: unknown[], authType?: string) => profile({ connectionExtras: list }, authType);
  assert.equal(problem(extras([{ name: "Realm", callbackParam: "realmId" }]))[0], "provider.connection_extras[0].name");
  assert.match(problem(extras([{ name: "realm_id" }]))[1], /exactly one of callback_param and token_pointer/);
  assert.match(problem(extras([{ name: "realm_id", callbackParam: "realmId", tokenPointer: "/realm" }]))[1], /exactly one/);
  assert.equal(problem(extras([{ name: "x", tokenPointer: "x" }]))[0], "provider.connection_extras[0].token_pointer");
  assert.equal(problem(extras([{ name: "x", callbackParam: "a b" }]))[0], "provider.connection_extras[0].callback_param");
  assert.deepEqual(
    problem(
      extras([
        { name: "x", callbackParam: "a" },
        { name: "x", tokenPointer: "/b" },
      ]),
    ),
    ["provider.connection_extras[1].name", 'provider.connection_extras[1].name: lists "x" twice'],
  );
  assert.deepEqual(problem(extras([{ name: "x", tokenPointer: "/a" }], "oauth2_client_credentials")), [
    "provider.connection_extras[0].name",
    "provider.connection_extras[0].name: is captured at OAuth consent: auth_type must be oauth2, not oauth2_client_credentials",
  ]);
  assert.equal(
    problem(extras(Array.from({ length: 17 }, (_, i) => ({ name: `x${i}`, tokenPointer: "/a" }))))[0],
    "provider.connection_extras",
  );
});

test("update masks: account_lookup (or one of its fields) replaces the whole lookup; connection_extras the list", () => {
  const current = validator.validate(
    profile({ accountLookup: { url: "https://acme.example/me", idPointer: "/id", emailPointer: "/email" } }),
    { purpose: "preset" },
  );
  const patch = { ...current, accountLookup: { url: "https://acme.example/v2/me", idPointer: "/data/id" } };
  for (const path of ["account_lookup", "account_lookup.url"]) {
    const { merged } = applyUpdateMask(current, patch, [path], undefined);
    assert.deepEqual(validator.validate(merged, { purpose: "preset" }).accountLookup, {
      url: "https://acme.example/v2/me",
      idPointer: "/data/id",
    });
  }
  const cleared = applyUpdateMask(current, { ...current, accountLookup: undefined }, ["account_lookup"], undefined);
  assert.equal(validator.validate(cleared.merged, { purpose: "preset" }).accountLookup, undefined);
  const extras = applyUpdateMask(
    current,
    { ...current, connectionExtras: [{ name: "x", callbackParam: "x" }] },
    ["connection_extras"],
    undefined,
  );
  assert.deepEqual(validator.validate(extras.merged, { purpose: "preset" }).connectionExtras, [{ name: "x", callbackParam: "x" }]);
});
