/**
 * Computes the drift between the providers a file asks for and those on the server, as a plan of
 * creates, masked updates and (with prune) deletes. Both sides are compared in REST JSON after the
 * desired side went through the same validation and defaults as the server, so a field left to its
 * default is not drift. Client secrets are write-only: they are compared only by presence.
 */
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { type Provider, ProviderSchema } from "../../gen/nexus/v1/providers_pb.ts";
import { profileToProto, providerFromProto } from "../proto-mapping/proto-profile.ts";
import type { ProfileValidator } from "../providers/validate-profile.ts";
import { toRestJson } from "../rest/rest-json.ts";
import { type DesiredProvider, ProvidersFileError } from "./providers-file.ts";

/** One changed field: its update-mask path and REST JSON values (undefined = unset). */
export interface FieldChange {
  path: string;
  from: JsonValue | undefined;
  to: JsonValue | undefined;
  /** For the client secret: only what will happen to it, never a value. */
  note?: string;
}

/** A provider to create or update, ready to send. */
export interface PlannedWrite {
  name: string;
  label: string;
  /** The normalized provider to send (no secret: add `clientSecret` when sending). */
  provider: Provider;
  clientSecret?: string;
}

/** What `apply` would do. */
export interface ProvidersPlan {
  creates: PlannedWrite[];
  updates: (PlannedWrite & { changes: FieldChange[]; paths: string[] })[];
  deletes: string[];
  /** Providers on the server but not in the file, left alone because prune is off. */
  unmanaged: string[];
}

const TOP_PATHS = [
  "display_name",
  "category",
  "auth_type",
  "credential_schema",
  "strategy",
  "url_params",
  "operator_params",
  "test_endpoint",
  "account_lookup",
  "connection_extras",
  "api_base_url",
  "proxy_timeouts",
];
const OAUTH_PATHS = [
  "issuer",
  "authorization_endpoint",
  "token_endpoint",
  "revocation_endpoint",
  "userinfo_endpoint",
  "client_id",
  "default_scopes",
  "authorize_params",
  "token_params",
  "client_auth_method",
  "pkce",
  "scope_separator",
  "omit_scope_on_exchange",
  "extra_token_fields",
  "token_request_headers",
];

/**
 * Plans the changes. Throws ProvidersFileError ("providers[0] (x): oauth.token_endpoint: …") for a
 * desired provider the server would refuse, before anything is sent.
 */
export function planProviders(options: {
  desired: readonly DesiredProvider[];
  current: readonly Provider[];
  validator: ProfileValidator;
  prune: boolean;
  /** Re-send secrets the file gives even when the server already has one (rotation). */
  updateSecrets: boolean;
}): ProvidersPlan {
  const currentByName = new Map(options.current.map((p) => [p.name, p]));
  const plan: ProvidersPlan = { creates: [], updates: [], deletes: [], unmanaged: [] };
  for (const want of options.desired) {
    const name = want.provider.name;
    const existing = currentByName.get(name);
    const hasSecretAfter = want.clientSecret !== undefined || (existing?.oauth?.hasClientSecret ?? false);
    let profile;
    try {
      profile = options.validator.validate(providerFromProto(want.provider, ""), { hasClientSecret: hasSecretAfter, fieldPrefix: "" });
    } catch (err) {
      throw new ProvidersFileError(`${want.label}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    const write: PlannedWrite = { name, label: want.label, provider: profileToProto(profile) };
    if (want.clientSecret !== undefined) write.clientSecret = want.clientSecret;
    if (existing === undefined) {
      plan.creates.push(write);
      continue;
    }
    const changes = diffProviders(existing, write.provider);
    if (want.clientSecret !== undefined && (!existing.oauth?.hasClientSecret || options.updateSecrets)) {
      const note = existing.oauth?.hasClientSecret ? "(write-only, will be replaced)" : "(write-only, will be set)";
      changes.push({ path: "oauth.client_secret", from: undefined, to: undefined, note });
    } else {
      delete write.clientSecret;
    }
    if (changes.length > 0) plan.updates.push({ ...write, changes, paths: changes.map((c) => c.path) });
  }
  const wanted = new Set(options.desired.map((d) => d.provider.name));
  for (const p of options.current) {
    if (wanted.has(p.name)) continue;
    (options.prune ? plan.deletes : plan.unmanaged).push(p.name);
  }
  return plan;
}

/** The fields that differ between a server provider and a normalized desired one. */
export function diffProviders(current: Provider, desired: Provider): FieldChange[] {
  const from = comparable(current);
  const to = comparable(desired);
  const changes: FieldChange[] = [];
  const compare = (path: string, a: JsonValue | undefined, b: JsonValue | undefined) => {
    if (canonical(a) !== canonical(b)) changes.push({ path, from: a, to: b });
  };
  for (const path of TOP_PATHS) compare(path, from[path], to[path]);
  const fromOAuth = from.oauth as JsonObject | undefined;
  const toOAuth = to.oauth as JsonObject | undefined;
  if (fromOAuth === undefined || toOAuth === undefined) {
    compare("oauth", fromOAuth, toOAuth);
  } else {
    for (const path of OAUTH_PATHS) compare(`oauth.${path}`, fromOAuth[path], toOAuth[path]);
  }
  return changes;
}

// REST JSON without the output-only fields, so only what an operator can set is compared.
function comparable(provider: Provider): JsonObject {
  const json = toRestJson(ProviderSchema, provider) as JsonObject;
  delete json.create_time;
  delete json.update_time;
  if (json.oauth !== undefined) {
    const oauth = { ...(json.oauth as JsonObject) };
    delete oauth.has_client_secret;
    delete oauth.client_secret;
    json.oauth = oauth;
  }
  return json;
}

// JSON with sorted keys: a Struct (credential_schema) or map may come back in another key order.
function canonical(value: JsonValue | undefined): string {
  return JSON.stringify(value ?? null, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}
