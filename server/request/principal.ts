/**
 * Who is calling: the principal an API key stands for, as the auth interceptor puts it in the
 * request context (`kPrincipal`). It carries ids and the role only, never the key's secret or hash.
 */
import type { ProxyRule } from "../domain/proxy-rule.ts";
import type { ApiKeyRecord, ApiKeyRole } from "../store/store.ts";

/** An authenticated caller. */
export interface Principal {
  /** The API key's id (audit rows name it). */
  readonly keyId: string;
  /** What the key may do. */
  readonly role: ApiKeyRole;
  /** The agent key's tenant; null for admin keys (every tenant). */
  readonly tenantId: string | null;
  /** When the key stops working, epoch ms; null or absent: never. Open streams end then. */
  readonly expiresAtMs?: number | null;
  /** The key's proxy rules (server/auth/proxy-access.ts decides with them); empty: none. */
  readonly proxyRules: readonly ProxyRule[];
  /** Whether the key may receive credentials (GetToken, RefreshConnection, WatchCredentials); false for proxy-only keys. */
  readonly canReadTokens: boolean;
}

/** The principal of a stored key. */
export function principalOf(record: ApiKeyRecord): Principal {
  return {
    keyId: record.id,
    role: record.role,
    tenantId: record.tenantId,
    expiresAtMs: record.expiresAtMs,
    proxyRules: record.proxyRules,
    canReadTokens: !record.proxyOnly,
  };
}
