/**
 * The environment every Nexus process under benchmark gets: production-like (info logs, a real
 * keyring, an admin key given so nothing is printed) except the per-key limits, which a load
 * generator using one key would otherwise hit at once. Keys are fresh per run and never printed.
 */
import { generateApiKeySecret } from "../server/auth/api-key-secret.ts";
import { generateKeyringText } from "../server/vault/keyring.ts";

/** Secrets shared by the processes of one scenario (replicas must share the keyring). */
export interface BenchSecrets {
  encryptionKeys: string;
  adminKey: string;
}

/** Fresh secrets for one scenario. */
export function createBenchSecrets(): BenchSecrets {
  return { encryptionKeys: generateKeyringText("kbench"), adminKey: generateApiKeySecret().secret };
}

/**
 * The environment of one server process (variables as `loadConfig` reads them); `extra` wins.
 * @example loadConfig(benchServerEnv(secrets, { NEXUS_DATA_DIR: dir }))
 */
export function benchServerEnv(secrets: BenchSecrets, extra: Record<string, string>): Record<string, string> {
  return {
    PORT: "0",
    NEXUS_HOST: "127.0.0.1",
    NEXUS_LOG_LEVEL: "info",
    NEXUS_ENCRYPTION_KEYS: secrets.encryptionKeys,
    NEXUS_ADMIN_API_KEY: secrets.adminKey,
    // One bench key sends far more than any agent: the limiter must not be what is measured.
    NEXUS_RATE_LIMIT_PER_SECOND: "1000000",
    NEXUS_RATE_LIMIT_BURST: "1000000",
    NEXUS_MAX_STREAMS_PER_KEY: "100000",
    NEXUS_SHUTDOWN_GRACE_MS: "2000",
    ...extra,
  };
}
