/**
 * The three API key operations the CLI offers, behind one interface with two implementations: the
 * server's ApiKeyService (the default: the running server sees the change at once and audits it),
 * or the database directly (`--direct`: bootstrap and recovery, e.g. a lost admin key).
 */
import { type Timestamp, timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import { type ApiKey, type ApiKeyService, Role } from "../../gen/nexus/v1/api_keys_pb.ts";
import type { ApiKeyManager } from "../auth/api-key-manager.ts";
import type { ProxyRule } from "../domain/proxy-rule.ts";
import type { ApiKeyRecord, ApiKeyRole } from "../store/store.ts";

/** A key as the CLI shows it: metadata, never the hash or the secret. */
export type KeyView = Omit<ApiKeyRecord, "secretHash">;

/** What `create` takes. */
export interface NewKey {
  name: string;
  role: ApiKeyRole;
  tenantId: string | undefined;
  expiresAtMs: number | null;
  proxyRules: readonly ProxyRule[];
  proxyOnly: boolean;
}

/** API key administration, wherever it happens. */
export interface KeyAdmin {
  /** Creates a key; the secret is returned once. */
  create(input: NewKey): Promise<{ record: KeyView; secret: string }>;
  /** Every key (all pages), newest first, optionally of one tenant. */
  listAll(filter: { tenantId?: string }): Promise<KeyView[]>;
  revoke(keyId: string): Promise<KeyView>;
}

/** Key administration straight on the database, through the same manager the server uses. */
export function createDirectKeyAdmin(keys: ApiKeyManager): KeyAdmin {
  return {
    async create(input) {
      const { record, secret } = await keys.create(input);
      return { record: view(record), secret };
    },
    async listAll(filter) {
      const all: KeyView[] = [];
      let pageToken = "";
      do {
        const page = await keys.list(filter, { pageSize: 500, pageToken });
        all.push(...page.items.map(view));
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      return all;
    },
    revoke: async (keyId) => view(await keys.revoke(keyId)),
  };
}

/** Key administration through a running server's ApiKeyService (needs an admin key). */
export function createRemoteKeyAdmin(client: Client<typeof ApiKeyService>): KeyAdmin {
  return {
    async create(input) {
      const { apiKey, secret } = await client.createApiKey({
        name: input.name,
        role: input.role === "admin" ? Role.ADMIN : Role.AGENT,
        tenantId: input.tenantId ?? "",
        expireTime: input.expiresAtMs === null ? undefined : timestampFromMs(input.expiresAtMs),
        proxyRules: input.proxyRules.map((rule) => ({ provider: rule.provider, methods: [...rule.methods], path: rule.path })),
        proxyOnly: input.proxyOnly,
      });
      if (apiKey === undefined) throw new Error("the server answered without the created key");
      return { record: fromProto(apiKey), secret };
    },
    async listAll(filter) {
      const all: KeyView[] = [];
      let pageToken = "";
      do {
        const page = await client.listApiKeys({ tenantId: filter.tenantId ?? "", pageSize: 500, pageToken });
        all.push(...page.apiKeys.map(fromProto));
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      return all;
    },
    async revoke(keyId) {
      const { apiKey } = await client.revokeApiKey({ keyId });
      if (apiKey === undefined) throw new Error("the server answered without the revoked key");
      return fromProto(apiKey);
    },
  };
}

function view(record: ApiKeyRecord): KeyView {
  const { secretHash: _hash, ...rest } = record;
  return rest;
}

function fromProto(key: ApiKey): KeyView {
  return {
    id: key.keyId,
    prefix: key.prefix,
    name: key.name,
    role: key.role === Role.ADMIN ? "admin" : "agent",
    tenantId: key.tenantId === "" ? null : key.tenantId,
    createdAtMs: ms(key.createTime) ?? 0,
    expiresAtMs: ms(key.expireTime),
    revokedAtMs: ms(key.revokeTime),
    lastUsedAtMs: ms(key.lastUsedTime),
    proxyRules: key.proxyRules.map((rule) => ({ provider: rule.provider, methods: [...rule.methods], path: rule.path })),
    proxyOnly: key.proxyOnly,
  };
}

function ms(timestamp: Timestamp | undefined): number | null {
  return timestamp === undefined ? null : timestampMs(timestamp);
}
