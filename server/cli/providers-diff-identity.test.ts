import assert from "node:assert/strict";
import { test } from "node:test";
import { ProviderSchema } from "../../gen/nexus/v1/providers_pb.ts";
import { profileToProto, providerFromProto } from "../proto-mapping/proto-profile.ts";
import { applyUpdateMask } from "../providers/update-mask.ts";
import { createProfileValidator } from "../providers/validate-profile.ts";
import { fromRestJson } from "../rest/rest-json.ts";
import { planProviders } from "./providers-diff.ts";

const validator = createProfileValidator();
const base = {
  name: "acme",
  auth_type: "oauth2",
  oauth: {
    authorization_endpoint: "https://acme.example/authorize",
    token_endpoint: "https://acme.example/token",
    client_id: "c",
    client_auth_method: "none",
  },
  strategy: { type: "oauth2" },
};

test("providers plan: account_lookup and connection_extras (REST JSON names in the file) show as drift and apply by mask", () => {
  const current = profileToProto(validator.validate(providerFromProto(fromRestJson(ProviderSchema, base)), { purpose: "preset" }));
  const desired = fromRestJson(ProviderSchema, {
    ...base,
    account_lookup: { url: "https://acme.example/me", id_pointer: "/id", email_pointer: "/email" },
    connection_extras: [{ name: "realm_id", callback_param: "realmId" }],
  });
  const plan = planProviders({
    desired: [{ label: "providers[0] (acme)", provider: desired }],
    current: [current],
    validator,
    prune: false,
    updateSecrets: false,
  });
  assert.deepEqual(plan.updates[0]?.paths, ["account_lookup", "connection_extras"]);

  const stored = validator.validate(providerFromProto(current), { purpose: "preset" });
  const { merged } = applyUpdateMask(stored, providerFromProto(desired), plan.updates[0]?.paths ?? [], undefined);
  const after = validator.validate(merged, { purpose: "preset" });
  assert.deepEqual(after.accountLookup, { url: "https://acme.example/me", idPointer: "/id", emailPointer: "/email" });
  assert.deepEqual(after.connectionExtras, [{ name: "realm_id", callbackParam: "realmId" }]);

  // The same file again: no drift.
  const again = planProviders({
    desired: [{ label: "providers[0] (acme)", provider: desired }],
    current: [profileToProto(after)],
    validator,
    prune: false,
    updateSecrets: false,
  });
  assert.deepEqual(again.updates, []);
});
