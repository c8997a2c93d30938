/**
 * `nexus keys generate`: prints a new encryption keyring entry for NEXUS_ENCRYPTION_KEYS.
 * Writes only to the given stream; never to a file or a log.
 */
import { generateKeyringText } from "../vault/keyring.ts";

/** Runs the command; `id` names the key (default: "k" + today's date). */
export function keysGenerate(options: { id?: string; out: NodeJS.WritableStream }): void {
  const entry = generateKeyringText(options.id);
  options.out.write(
    `${entry}\n\n` +
      "Set NEXUS_ENCRYPTION_KEYS to this value. To rotate, put a new entry first and keep the old ones\n" +
      "after it (comma-separated) until every secret has been re-encrypted.\n",
  );
}
