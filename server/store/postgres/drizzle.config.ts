/**
 * drizzle-kit settings for the PostgreSQL schema: `npm run generate:migrations` (run from the
 * repository root) writes SQL migrations into ./migrations, which the store applies at start-up
 * under an advisory lock. Generated output: reviewed, never edited by hand.
 */
import { defineConfig } from "drizzle-kit";

/** The drizzle-kit configuration for `server/store/postgres`. */
export default defineConfig({
  dialect: "postgresql",
  schema: "./server/store/postgres/schema.ts",
  out: "./server/store/postgres/migrations",
  strict: true,
  verbose: true,
});
