/**
 * The API key part of the storage contract: key records (hashes, never secrets) and `ApiKeyStore`.
 */
import type { ProxyRule } from "../domain/proxy-rule.ts";
import type { Page, PageRequest } from "./common.ts";

/** What an API key may do. */
export type ApiKeyRole = "admin" | "agent";

/** An API key's metadata and the hash of its secret (never the secret). */
export interface ApiKeyRecord {
  id: string;
  /** First characters of the secret, for recognising a key; not secret. */
  prefix: string;
  secretHash: string;
  name: string;
  role: ApiKeyRole;
  /** Tenant of an agent key; null for admin keys. */
  tenantId: string | null;
  createdAtMs: number;
  expiresAtMs: number | null;
  revokedAtMs: number | null;
  lastUsedAtMs: number | null;
  /** Proxy allow rules (agent keys); empty: none. Set at creation, never changed. */
  proxyRules: ProxyRule[];
  /** A proxy-only key never receives a credential (GetToken, RefreshConnection, WatchCredentials). */
  proxyOnly: boolean;
}

/** What `createApiKey` takes; `id` defaults to a generated `key_…` id. */
export interface ApiKeyInput {
  id?: string;
  prefix: string;
  secretHash: string;
  name: string;
  role: ApiKeyRole;
  tenantId: string | null;
  expiresAtMs?: number | null;
  /** Default: none. */
  proxyRules?: readonly ProxyRule[];
  /** Default: false. */
  proxyOnly?: boolean;
}

/** Filters of `listApiKeys`. */
export interface ApiKeyFilter {
  tenantId?: string;
}

/** API keys. */
export interface ApiKeyStore {
  /** Creates a key; AlreadyExistsError on a taken id or hash, NotFoundError("tenant") for a missing tenant. */
  createApiKey(input: ApiKeyInput): Promise<ApiKeyRecord>;
  /** Reads a key; NotFoundError when missing. */
  getApiKey(id: string): Promise<ApiKeyRecord>;
  /** Finds a key by its secret hash, revoked and expired ones included (the caller decides), or null. */
  findApiKeyByHash(secretHash: string): Promise<ApiKeyRecord | null>;
  /** Lists keys, newest first. */
  listApiKeys(filter: ApiKeyFilter, page: PageRequest): Promise<Page<ApiKeyRecord>>;
  /** Revokes a key (idempotent: the first revocation time is kept); NotFoundError when missing. */
  revokeApiKey(id: string): Promise<ApiKeyRecord>;
  /** Records that the key authenticated a request at `usedAtMs` (never moves backwards). */
  markApiKeyUsed(id: string, usedAtMs: number): Promise<void>;
}
