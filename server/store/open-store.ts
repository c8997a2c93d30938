/**
 * Opens the configured backend: PostgreSQL when a database URL is given, SQLite in the data
 * directory otherwise. Each backend is imported only when chosen, since their drivers cost start-up
 * time (drizzle's ESM entry points alone take about a second to load on Node 24).
 */
import type { Store } from "./store.ts";

/** Where the data lives (see Config.databaseUrl / Config.dataDir). */
export interface StoreLocation {
  databaseUrl: string | undefined;
  dataDir: string;
  /** Told about failures of idle pooled PostgreSQL connections (which would crash the process if unhandled). */
  onPoolError?: (err: Error) => void;
  /** Longest wait for a PostgreSQL query's answer, ms (Config.databaseQueryTimeoutMs). */
  queryTimeoutMs: number;
  /** The app's clock, epoch ms: stored times must be comparable with everything else's `now`. */
  now: () => number;
}

/** Opens (and migrates) the store. */
export async function openStore(location: StoreLocation): Promise<Store> {
  if (location.databaseUrl !== undefined) {
    const { createPostgresStore } = await import("./postgres/store.ts");
    return createPostgresStore({
      connectionString: location.databaseUrl,
      onPoolError: location.onPoolError,
      queryTimeoutMs: location.queryTimeoutMs,
      now: location.now,
    });
  }
  const { createSqliteStore } = await import("./sqlite/store.ts");
  return createSqliteStore({ dataDir: location.dataDir, now: location.now });
}
