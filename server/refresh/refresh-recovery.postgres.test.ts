/**
 * The refresh recovery cases (refresh-recovery-cases.ts) on PostgreSQL, a database per test. Needs
 * NEXUS_TEST_DATABASE_URL (default: local postgres); fails instead of skipping when CI is set.
 */

import { createTestDatabase } from "../../test/support/postgres-test-database.ts";
import { describeWithPostgres } from "../../test/support/postgres-test-server.ts";
import { recoveryCases } from "../../test/support/refresh-recovery-cases.ts";
import { createPostgresStore } from "../store/postgres/store.ts";

const maintenanceUrl = process.env.NEXUS_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

await describeWithPostgres("refresh recovery on PostgreSQL", { maintenanceUrl, isRequired: Boolean(process.env.CI) }, (url) => {
  recoveryCases(async (clock) => {
    const database = await createTestDatabase(url);
    const store = await createPostgresStore({ connectionString: database.url, now: clock.now, poolMax: 4 });
    return {
      store,
      async dispose() {
        await store.close();
        await database.drop();
      },
    };
  });
});
