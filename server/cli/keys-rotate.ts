/**
 * `nexus keys rotate`: re-encrypts every stored secret under the active (first) key of the
 * configured keyring, against the same database the server uses, while the server keeps running.
 * Run it only after every replica runs with the new keyring (new key first, old keys after it).
 * Like every direct command it refuses a SQLite database that does not exist (direct-store.ts).
 */
import { loadConfig } from "../config/config.ts";
import { rotateSecrets } from "../maintenance/rotate-secrets.ts";
import { loadOrCreateDevKeyring, parseKeyring } from "../vault/keyring.ts";
import { createVault } from "../vault/vault.ts";
import { openDirectStore } from "./direct-store.ts";

/** Runs the command; returns the process exit code. */
export async function keysRotate(options: { env: NodeJS.ProcessEnv; out: NodeJS.WritableStream }): Promise<number> {
  const config = loadConfig(options.env);
  const keyring =
    config.encryptionKeys !== undefined ? parseKeyring(config.encryptionKeys) : loadOrCreateDevKeyring(config.dataDir).keyring;
  const store = await openDirectStore(options.env, { init: false });
  try {
    const before = await store.countSealedByKey();
    const report = await rotateSecrets({ store, vault: createVault(keyring), activeKeyId: keyring.active.id });
    options.out.write(
      `active key: ${keyring.active.id}\n` +
        `before:     ${JSON.stringify(before)}\n` +
        `rotated:    ${report.rotated} value(s)${report.raced > 0 ? ` (${report.raced} changed meanwhile and were re-read)` : ""}\n` +
        `after:      ${JSON.stringify(report.countsByKey)}\n` +
        (Object.keys(report.countsByKey).every((k) => k === keyring.active.id)
          ? "Every secret is under the active key: older keys can now be removed from NEXUS_ENCRYPTION_KEYS.\n"
          : ""),
    );
    return 0;
  } finally {
    await store.close();
  }
}
