/**
 * The provider part of the storage contract: stored provider profiles and `ProviderStore`.
 */
import type { EncryptedBlob, JsonObject, Page, PageRequest } from "./common.ts";

/**
 * A stored provider profile. `profile` is the profile owned by `server/providers/` as JSON, without
 * its client secret; the store does not interpret it. The client secret exists only as ciphertext.
 */
export interface ProviderRecord {
  name: string;
  profile: JsonObject;
  clientSecret: EncryptedBlob | null;
  createdAtMs: number;
  updatedAtMs: number;
}

/** What `createProvider` takes. */
export interface ProviderInput {
  name: string;
  profile: JsonObject;
  clientSecret?: EncryptedBlob | null;
}

/** Fields `updateProvider` changes; an absent field is kept, `clientSecret: null` removes the secret. */
export interface ProviderChanges {
  profile?: JsonObject;
  clientSecret?: EncryptedBlob | null;
}

/** Provider profiles. */
export interface ProviderStore {
  /** Creates a provider; AlreadyExistsError when the name is taken. */
  createProvider(input: ProviderInput): Promise<ProviderRecord>;
  /** Reads a provider; NotFoundError when missing. */
  getProvider(name: string): Promise<ProviderRecord>;
  /** Lists providers by name. */
  listProviders(page: PageRequest): Promise<Page<ProviderRecord>>;
  /** Changes a provider; NotFoundError when missing. */
  updateProvider(name: string, changes: ProviderChanges): Promise<ProviderRecord>;
  /** Deletes a provider (its connections stay, unusable); NotFoundError when missing. */
  deleteProvider(name: string): Promise<void>;
  /** Whether any connection, of any tenant, names the provider. */
  isProviderInUse(name: string): Promise<boolean>;
}
