/**
 * The first admin key. Production: NEXUS_ADMIN_API_KEY's hash is ensured at every start (the secret
 * itself is never stored or printed). Development without it: on the first start (no key at all) a
 * bootstrap admin key is created and its secret is written ONCE to `announce` (stdout), never to
 * the logger, whose lines are shipped and kept; later starts print nothing.
 */
import type { Logger } from "../logging/logger.ts";
import type { ApiKeyManager } from "./api-key-manager.ts";

/** What the bootstrap needs. */
export interface BootstrapAdminKeyDeps {
  keys: ApiKeyManager;
  mode: "development" | "production";
  /** NEXUS_ADMIN_API_KEY, when configured. */
  configuredSecret: string | undefined;
  /** Writes text for the operator's eyes only (stdout); never a logger. */
  announce: (text: string) => void;
  logger: Logger;
}

/** Ensures an admin key exists; see the module comment. */
export async function ensureBootstrapAdminKey(deps: BootstrapAdminKeyDeps): Promise<void> {
  const { keys, logger } = deps;
  if (deps.configuredSecret !== undefined) {
    const { record, created } = await keys.ensureAdminSecret(deps.configuredSecret, "NEXUS_ADMIN_API_KEY");
    if (created) logger.info({ keyId: record.id }, "admin API key from NEXUS_ADMIN_API_KEY registered");
    if (record.revokedAtMs !== null) {
      logger.warn({ keyId: record.id }, "NEXUS_ADMIN_API_KEY names a revoked key: it stays revoked; configure a new one");
    }
    if (record.role !== "admin") logger.warn({ keyId: record.id }, "NEXUS_ADMIN_API_KEY matches a non-admin key");
    return;
  }
  // checkServerConfig refuses this earlier; kept so no caller can start production keyless.
  if (deps.mode === "production") throw new Error("NEXUS_ADMIN_API_KEY is required in production");
  if (await keys.hasAnyKey()) return;
  const { record, secret } = await keys.create({ name: "bootstrap admin (development)", role: "admin" });
  logger.warn({ keyId: record.id }, "DEVELOPMENT MODE: created a bootstrap admin API key (its secret was printed to stdout once)");
  const line = "=".repeat(78);
  deps.announce(
    [
      "",
      line,
      "  DEVELOPMENT MODE: bootstrap admin API key (shown ONCE, not stored in clear, not logged)",
      "",
      `    ${secret}`,
      "",
      `  key id ${record.id}. Send it as "Authorization: Bearer <key>". Make agent keys with`,
      "  `npm run nexus -- keys create --role agent --tenant <tenant> --name <name>`.",
      "  Production never prints a key: it requires NEXUS_ADMIN_API_KEY instead.",
      line,
      "",
    ].join("\n") + "\n",
  );
}
