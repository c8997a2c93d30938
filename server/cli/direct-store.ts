/**
 * Opens the database for the CLI's `--direct` commands (and `keys rotate`): the one the server
 * would use (NEXUS_DATA_DIR / DATABASE_URL). Refuses a SQLite file that does not exist yet unless
 * asked to create it, so a command run in the wrong directory never silently makes a stray
 * ./data/nexus.db that no server reads. PostgreSQL databases are named explicitly and never created.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../config/config.ts";
import { systemNow } from "../config/defaults.ts";
import { openStore } from "../store/open-store.ts";
import { SQLITE_FILE_NAME } from "../store/sqlite/store.ts";
import type { Store } from "../store/store.ts";

/** Thrown when the database is missing and `init` was not given; its message says what to do. */
export class MissingDatabaseError extends Error {
  override readonly name = "MissingDatabaseError";
}

/** Opens the configured store; `init` allows creating a new SQLite database. */
export async function openDirectStore(env: Readonly<Record<string, string | undefined>>, options: { init: boolean }): Promise<Store> {
  const config = loadConfig(env);
  if (config.databaseUrl === undefined && !options.init) {
    const file = join(config.dataDir, SQLITE_FILE_NAME);
    if (!existsSync(file)) {
      throw new MissingDatabaseError(
        `no database at ${file}: run in the server's directory, or set NEXUS_DATA_DIR (or DATABASE_URL) to the server's; ` +
          "--init creates a new one (for a server that has not started yet)",
      );
    }
  }
  return openStore({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    queryTimeoutMs: config.databaseQueryTimeoutMs,
    now: systemNow,
  });
}
