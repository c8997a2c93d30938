/**
 * Who is calling: the principal an API key stands for, as the auth interceptor puts it in the
 * request context (`kPrincipal`). It carries ids and the role only, never the key's secret or hash.
 */
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
}

/** The principal of a stored key. */
export function principalOf(record: ApiKeyRecord): Principal {
  return { keyId: record.id, role: record.role, tenantId: record.tenantId, expiresAtMs: record.expiresAtMs };
}
