/**
 * Applies an update mask (AIP-134, paths in proto snake_case) to a stored profile: the masked fields
 * take the patch's value (absent → cleared, so validation restores the default), every other field
 * is kept. It only merges; the caller validates the result. It decides what happens to the client
 * secret but never holds one.
 */
import { InvalidArgumentError } from "../domain/errors.ts";
import type { ProviderProfile } from "./profile.ts";
import type { OAuthSettingsInput, ProviderProfileInput } from "./profile-input.ts";

/** What an update does to the stored client secret. */
export type SecretChange = "keep" | "set" | "remove";

/** The merged (unvalidated) profile and the secret decision. */
export interface MaskedUpdate {
  merged: ProviderProfileInput;
  secret: SecretChange;
}

const TOP_FIELDS = {
  display_name: "displayName",
  category: "category",
  auth_type: "authType",
  credential_schema: "credentialSchema",
  strategy: "strategy",
  url_params: "urlParams",
  operator_params: "operatorParams",
  test_endpoint: "testEndpoint",
  account_lookup: "accountLookup",
  connection_extras: "connectionExtras",
  api_base_url: "apiBaseUrl",
  proxy_timeouts: "proxyTimeouts",
} as const satisfies Record<string, keyof ProviderProfileInput>;

const OAUTH_FIELDS = {
  issuer: "issuer",
  authorization_endpoint: "authorizationEndpoint",
  token_endpoint: "tokenEndpoint",
  revocation_endpoint: "revocationEndpoint",
  userinfo_endpoint: "userinfoEndpoint",
  client_id: "clientId",
  default_scopes: "defaultScopes",
  authorize_params: "authorizeParams",
  token_params: "tokenParams",
  client_auth_method: "clientAuthMethod",
  pkce: "pkce",
  scope_separator: "scopeSeparator",
  omit_scope_on_exchange: "omitScopeOnExchange",
  extra_token_fields: "extraTokenFields",
  token_request_headers: "tokenRequestHeaders",
  refresh_token_reuse_window_seconds: "refreshTokenReuseWindowSeconds",
} as const satisfies Record<string, keyof OAuthSettingsInput>;

// The fields the proto OAuthSettings carries: a whole-"oauth" replacement replaces exactly these.
const PROTO_OAUTH_FIELDS: readonly (keyof OAuthSettingsInput)[] = Object.values(OAUTH_FIELDS);

const OUTPUT_ONLY = new Set(["create_time", "update_time", "oauth.has_client_secret"]);

/**
 * Merges `patch` into `current` for `paths`. "strategy.…" sub-paths replace the whole strategy (its
 * oneof config only makes sense as a unit), "account_lookup.…" the whole lookup; "oauth" replaces every OAuth setting and sets the secret
 * only when one is given; "oauth.client_secret" sets it, or removes it when `clientSecret` is empty.
 * @throws InvalidArgumentError("update_mask") for an unknown path, ("provider.name") for a rename.
 */
export function applyUpdateMask(
  current: ProviderProfile,
  patch: ProviderProfileInput,
  paths: readonly string[],
  clientSecret: string | undefined,
): MaskedUpdate {
  const merged: ProviderProfileInput = structuredClone(current);
  const hasSecret = clientSecret !== undefined && clientSecret !== "";
  let secret: SecretChange = "keep";
  for (const path of paths) {
    if (OUTPUT_ONLY.has(path)) continue;
    if (path === "name") {
      if (patch.name !== undefined && patch.name !== "" && patch.name !== current.name) {
        throw new InvalidArgumentError("provider.name", "is immutable");
      }
      continue;
    }
    if (path === "oauth.client_secret") {
      secret = hasSecret ? "set" : "remove";
      continue;
    }
    if (path === "oauth") {
      merged.oauth = replaceOAuth(merged.oauth, patch.oauth);
      if (hasSecret) secret = "set";
      continue;
    }
    if (path === "strategy" || path.startsWith("strategy.")) {
      merged.strategy = patch.strategy as ProviderProfileInput["strategy"];
      continue;
    }
    // Like strategy: its fields only make sense together (a URL with its pointers).
    if (path.startsWith("account_lookup.")) {
      merged.accountLookup = patch.accountLookup;
      continue;
    }
    if (path in TOP_FIELDS) {
      const key = TOP_FIELDS[path as keyof typeof TOP_FIELDS];
      (merged as Record<string, unknown>)[key] = patch[key];
      continue;
    }
    const sub = path.startsWith("oauth.") ? path.slice("oauth.".length) : undefined;
    if (sub !== undefined && sub in OAUTH_FIELDS) {
      const key = OAUTH_FIELDS[sub as keyof typeof OAUTH_FIELDS];
      const oauth: Record<string, unknown> = { ...(merged.oauth ?? {}) };
      oauth[key] = patch.oauth?.[key];
      merged.oauth = oauth as OAuthSettingsInput;
      continue;
    }
    throw new InvalidArgumentError("update_mask", `"${path.slice(0, 64)}" is not a field of Provider that can be updated`);
  }
  return { merged, secret };
}

function replaceOAuth(current: OAuthSettingsInput | undefined, next: OAuthSettingsInput | undefined): OAuthSettingsInput | undefined {
  if (next === undefined) return undefined;
  const kept = Object.fromEntries(
    Object.entries(current ?? {}).filter(([key]) => !PROTO_OAUTH_FIELDS.includes(key as keyof OAuthSettingsInput)),
  );
  return { ...kept, ...dropUndefined(next) };
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
