/**
 * drizzle-kit settings for the SQLite schema: `npm run generate:migrations` (run from the repository
 * root) writes SQL migrations into ./migrations, which the store applies at open. Generated output:
 * reviewed, never edited by hand.
 */
import { defineConfig } from "drizzle-kit";

/** The drizzle-kit configuration for `server/store/sqlite`. */
export default defineConfig({
  dialect: "sqlite",
  schema: "./server/store/sqlite/schema.ts",
  out: "./server/store/sqlite/migrations",
  strict: true,
  verbose: true,
});
