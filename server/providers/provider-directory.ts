/**
 * The provider directory: validated create/read/update/delete of provider profiles over the store,
 * with the client secret sealed by the vault (AAD bound to the provider name) beside the profile.
 * Every write passes validate-profile.ts. Names are case-insensitive (stored lower-case). The secret
 * leaves this module only through `getWithSecret`, for the OAuth flow — never into an error or log.
 */
import { FailedPreconditionError } from "../domain/errors.ts";
import type { JsonObject, Page, PageRequest, ProviderRecord, Store } from "../store/store.ts";
import type { Vault } from "../vault/vault.ts";
import { clientSecretAad, type ProviderProfile, type StoredProvider } from "./profile.ts";
import type { ProviderProfileInput } from "./profile-input.ts";
import { applyUpdateMask } from "./update-mask.ts";
import { createProfileValidator, type ProfileValidator } from "./validate-profile.ts";

/** A masked update of a provider. */
export interface ProviderUpdate {
  /** Values of the masked fields, as a (partial) profile; a masked field absent here is cleared. */
  patch: ProviderProfileInput;
  /** Update-mask paths in proto snake_case ("display_name", "oauth.default_scopes", …). */
  paths: readonly string[];
  /** New client secret for "oauth.client_secret" (empty removes it) or "oauth" (empty keeps it). */
  clientSecret?: string;
}

/** Provider profiles and their sealed client secrets. */
export interface ProviderDirectory {
  /** Reads a provider; NotFoundError when missing. */
  get(name: string): Promise<StoredProvider>;
  /** Reads a provider and opens its client secret (undefined when none): for the OAuth flow only. */
  getWithSecret(name: string): Promise<{ provider: StoredProvider; clientSecret: string | undefined }>;
  /** Validates and creates a provider; InvalidArgumentError, AlreadyExistsError. */
  create(profile: ProviderProfileInput, clientSecret?: string): Promise<StoredProvider>;
  /** Applies a masked update and re-validates the whole profile; NotFoundError, InvalidArgumentError. */
  update(name: string, update: ProviderUpdate): Promise<StoredProvider>;
  /** Deletes a provider; FailedPreconditionError while connections use it, unless `force`. */
  delete(name: string, force: boolean): Promise<void>;
  /** Lists providers by name. */
  list(page: PageRequest): Promise<Page<StoredProvider>>;
}

/** Providers whose validated profile `getWithSecret` keeps (a deployment has a handful). */
const MAX_VALIDATED_PROFILES = 1_000;

/** Creates the directory. `validator` defaults to a new profile validator. */
export function createProviderDirectory(deps: { store: Store; vault: Vault; validator?: ProfileValidator }): ProviderDirectory {
  const { store, vault } = deps;
  const validator = deps.validator ?? createProfileValidator();

  const fromRecord = (record: ProviderRecord): StoredProvider => {
    let profile: ProviderProfile;
    try {
      // Re-validating fills defaults added since the profile was written.
      profile = validator.validate(record.profile, { hasClientSecret: record.clientSecret !== null, purpose: "stored" });
    } catch (cause) {
      throw new Error(`stored profile of provider "${record.name}" does not validate`, { cause });
    }
    return { profile, hasClientSecret: record.clientSecret !== null, createdAtMs: record.createdAtMs, updatedAtMs: record.updatedAtMs };
  };
  const seal = (name: string, secret: string) => vault.seal(secret, clientSecretAad(name));
  /**
   * Provider name → the stored profile (as JSON text, with whether a secret is set) last validated
   * for `getWithSecret`, and its validated form: every refresh reads its provider, and validating
   * cost more than the rest of a scheduled refresh (bench/README.md). Any change to the stored
   * profile, on any replica, changes the text, so a stale validation is never used. The cached
   * profile is shared between callers: treat it as read-only (as every caller does).
   */
  const validated = new Map<string, { key: string; profile: ProviderProfile }>();
  const fromRecordCached = (record: ProviderRecord): StoredProvider => {
    const key = `${record.clientSecret === null ? "-" : "+"}${JSON.stringify(record.profile)}`;
    const cached = validated.get(record.name);
    let profile = cached?.key === key ? cached.profile : undefined;
    if (profile === undefined) {
      profile = fromRecord(record).profile;
      if (cached === undefined && validated.size >= MAX_VALIDATED_PROFILES) validated.delete(validated.keys().next().value as string);
      validated.set(record.name, { key, profile });
    }
    return { profile, hasClientSecret: record.clientSecret !== null, createdAtMs: record.createdAtMs, updatedAtMs: record.updatedAtMs };
  };

  return {
    async get(name) {
      return fromRecord(await store.getProvider(name.toLowerCase()));
    },
    async getWithSecret(name) {
      const record = await store.getProvider(name.toLowerCase());
      const clientSecret =
        record.clientSecret === null ? undefined : vault.open(record.clientSecret, clientSecretAad(record.name)).toString("utf8");
      return { provider: fromRecordCached(record), clientSecret };
    },
    async create(input, clientSecret) {
      const hasSecret = clientSecret !== undefined && clientSecret !== "";
      const candidate = { ...input, name: typeof input.name === "string" ? input.name.toLowerCase() : input.name };
      const profile = validator.validate(candidate, { hasClientSecret: hasSecret });
      const record = await store.createProvider({
        name: profile.name,
        profile: toJson(profile),
        clientSecret: hasSecret ? seal(profile.name, clientSecret) : null,
      });
      return fromRecord(record);
    },
    async update(name, update) {
      const key = name.toLowerCase();
      const current = fromRecord(await store.getProvider(key));
      const { merged, secret } = applyUpdateMask(current.profile, update.patch, update.paths, update.clientSecret);
      // A provider that stops being OAuth has no use for its client secret: it goes with the oauth settings.
      const isOAuth = merged.authType === "oauth2" || merged.authType === "oauth2_client_credentials";
      const hasSecret = secret === "set" || (secret === "keep" && current.hasClientSecret && isOAuth);
      const profile = validator.validate(merged, { hasClientSecret: hasSecret });
      let clientSecret;
      if (secret === "set") clientSecret = seal(key, update.clientSecret ?? "");
      else if (!hasSecret && current.hasClientSecret) clientSecret = null;
      const record = await store.updateProvider(key, { profile: toJson(profile), clientSecret });
      return fromRecord(record);
    },
    async delete(name, force) {
      const key = name.toLowerCase();
      await store.getProvider(key);
      if (!force && (await store.isProviderInUse(key))) {
        throw new FailedPreconditionError("provider_in_use", key, "connections still use it; delete with force to make them unusable");
      }
      await store.deleteProvider(key);
    },
    async list(page) {
      const result = await store.listProviders(page);
      return { items: result.items.map(fromRecord), nextPageToken: result.nextPageToken };
    },
  };
}

function toJson(profile: ProviderProfile): JsonObject {
  return JSON.parse(JSON.stringify(profile)) as JsonObject;
}
