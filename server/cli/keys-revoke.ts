/**
 * `nexus keys revoke KEY_ID`: revokes an API key. Through the server (the default) it takes effect
 * at once on that server; with --direct (in the database) running servers stop accepting it within
 * their key cache time (NEXUS_API_KEY_CACHE_MS, default 5 s).
 */
import type { KeyAdmin } from "./key-admin.ts";
import type { CommandIo } from "./providers-plan.ts";

/** Revokes the key; returns the exit code. */
export async function keysRevoke(keys: KeyAdmin, keyId: string, io: CommandIo): Promise<number> {
  const record = await keys.revoke(keyId);
  io.stdout.write(`revoked ${record.role} key ${record.id} (${record.prefix}…) at ${new Date(record.revokedAtMs ?? 0).toISOString()}\n`);
  return 0;
}
