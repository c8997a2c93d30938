/**
 * `nexus keys revoke KEY_ID`: revokes an API key in the configured database. Running servers stop
 * accepting it within their key cache time (NEXUS_API_KEY_CACHE_MS, default 5 s); a revocation
 * through the API (RevokeApiKey) takes effect at once on the server that handles it.
 */
import type { ApiKeyManager } from "../auth/api-key-manager.ts";
import type { CommandIo } from "./providers-plan.ts";

/** Revokes the key; returns the exit code. */
export async function keysRevoke(keys: ApiKeyManager, keyId: string, io: CommandIo): Promise<number> {
  const record = await keys.revoke(keyId);
  io.stdout.write(`revoked ${record.role} key ${record.id} (${record.prefix}…) at ${new Date(record.revokedAtMs ?? 0).toISOString()}\n`);
  return 0;
}
