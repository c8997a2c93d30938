/**
 * API key administration shared by the ApiKeyService and the `nexus keys` CLI: validates and creates
 * keys (an agent key's tenant is created on first use), lists and revokes them, and ensures the
 * configured admin key exists. The secret leaves this module once, in `create`'s result; only its
 * hash is stored. It decides nothing about who may call it (that is the permission table).
 */
import { InvalidArgumentError, NotFoundError } from "../domain/errors.ts";
import { normalizeProxyRules, type ProxyRule } from "../domain/proxy-rule.ts";
import type { ApiKeyFilter, ApiKeyRecord, ApiKeyRole, Page, PageRequest, Store } from "../store/store.ts";
import { generateApiKeySecret, hashApiKeySecret, visiblePrefix } from "./api-key-secret.ts";

/** What a new key is. */
export interface NewApiKey {
  /** Human label, 1-128 characters. */
  name: string;
  role: ApiKeyRole;
  /** Required for agent keys, absent (or "") for admin keys. */
  tenantId?: string | null;
  /** Optional expiry, in the future. */
  expiresAtMs?: number | null;
  /** Proxy allow rules (agent keys only); checked and normalised (server/domain/proxy-rule.ts). */
  proxyRules?: readonly ProxyRule[];
  /** A proxy-only agent key never receives a credential. */
  proxyOnly?: boolean;
}

/** A created key and, this once, its secret. */
export interface CreatedApiKey {
  record: ApiKeyRecord;
  secret: string;
}

/** API key administration. */
export interface ApiKeyManager {
  /** Creates a key. InvalidArgumentError (fields named as in the proto) on bad input. */
  create(input: NewApiKey): Promise<CreatedApiKey>;
  /** Lists keys, newest first. */
  list(filter: ApiKeyFilter, page: PageRequest): Promise<Page<ApiKeyRecord>>;
  /** Revokes a key (idempotent); NotFoundError when missing. */
  revoke(keyId: string): Promise<ApiKeyRecord>;
  /**
   * Makes sure an admin key with this secret exists (creating it when missing) and returns it.
   * A key that exists but was revoked stays revoked: revocation is final.
   */
  ensureAdminSecret(secret: string, name: string): Promise<{ record: ApiKeyRecord; created: boolean }>;
  /** Whether any key exists at all (a first start has none). */
  hasAnyKey(): Promise<boolean>;
}

const TENANT_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** Creates the manager. `now` is epoch milliseconds. */
export function createApiKeyManager(deps: { store: Store; now: () => number }): ApiKeyManager {
  const { store, now } = deps;
  return {
    async create(input) {
      const name = checkName(input.name);
      const tenantId = input.tenantId ?? "";
      if (input.role !== "admin" && input.role !== "agent") throw new InvalidArgumentError("role", "must be admin or agent");
      if (input.role === "agent") {
        if (tenantId === "") throw new InvalidArgumentError("tenant_id", "is required for agent keys");
        if (!TENANT_PATTERN.test(tenantId)) {
          throw new InvalidArgumentError("tenant_id", "must be 1-128 characters of letters, digits, '_' or '-'");
        }
      } else if (tenantId !== "") {
        throw new InvalidArgumentError("tenant_id", "must be empty for admin keys (they act in every tenant)");
      }
      const expiresAtMs = input.expiresAtMs ?? null;
      if (expiresAtMs !== null && (!Number.isSafeInteger(expiresAtMs) || expiresAtMs <= now())) {
        throw new InvalidArgumentError("expire_time", "must be in the future");
      }
      const proxyRules = await checkProxyRules(store, input);
      const proxyOnly = input.proxyOnly ?? false;
      if (proxyOnly && input.role === "admin") {
        throw new InvalidArgumentError("proxy_only", "applies to agent keys only (an admin key can mint keys that read tokens)");
      }
      if (input.role === "agent") await store.ensureTenant({ id: tenantId, displayName: tenantId });
      const generated = generateApiKeySecret();
      const record = await store.createApiKey({
        prefix: generated.prefix,
        secretHash: generated.secretHash,
        name,
        role: input.role,
        tenantId: input.role === "agent" ? tenantId : null,
        expiresAtMs,
        proxyRules,
        proxyOnly,
      });
      return { record, secret: generated.secret };
    },
    list: (filter, page) => store.listApiKeys(filter, page),
    revoke: (keyId) => store.revokeApiKey(keyId),
    async ensureAdminSecret(secret, name) {
      const secretHash = hashApiKeySecret(secret);
      const existing = await store.findApiKeyByHash(secretHash);
      if (existing !== null) return { record: existing, created: false };
      const record = await store.createApiKey({ prefix: visiblePrefix(secret), secretHash, name, role: "admin", tenantId: null });
      return { record, created: true };
    },
    async hasAnyKey() {
      return (await store.listApiKeys({}, { pageSize: 1 })).items.length > 0;
    },
  };
}

function checkName(name: string): string {
  if (name === "") throw new InvalidArgumentError("name", "is required");
  if ([...name].length > 128) throw new InvalidArgumentError("name", "must be at most 128 characters");
  // Names show up in terminals and admin UIs: no control characters (escape sequences, newlines).
  if (/\p{Cc}/u.test(name)) throw new InvalidArgumentError("name", "must not contain control characters");
  return name;
}

/**
 * An agent key's proxy rules checked and normalised: the language's own checks (domain/proxy-rule.ts),
 * then every provider must exist, so a misspelt name fails now rather than refusing every call.
 * Fields are named as in the proto (`proxy_rules[2].path`). Admin keys take no rules.
 */
async function checkProxyRules(store: Pick<Store, "getProvider">, input: NewApiKey): Promise<ProxyRule[]> {
  const rules = input.proxyRules ?? [];
  if (rules.length === 0) return [];
  if (input.role === "admin") {
    throw new InvalidArgumentError("proxy_rules", "apply to agent keys only (admin keys may use the proxy without rules)");
  }
  const checked = normalizeProxyRules(rules);
  if ("problem" in checked) {
    const field = checked.index < 0 ? "proxy_rules" : `proxy_rules[${checked.index}]${checked.field === "" ? "" : `.${checked.field}`}`;
    throw new InvalidArgumentError(field, checked.problem);
  }
  for (const [index, rule] of checked.rules.entries()) {
    try {
      await store.getProvider(rule.provider);
    } catch (err) {
      if (err instanceof NotFoundError)
        throw new InvalidArgumentError(`proxy_rules[${index}].provider`, `no provider named "${rule.provider}"`);
      throw err;
    }
  }
  return checked.rules;
}
