/**
 * The refresh engine across replicas on PostgreSQL: two engines with their own pools (distinct
 * lease owners) on one database make one provider call between them, and a replica that dies
 * holding the lease is taken over. Needs NEXUS_TEST_DATABASE_URL (default: local postgres);
 * fails instead of skipping when CI is set.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, it } from "node:test";
import { createTestDatabase, type TestDatabase } from "../../test/support/postgres-test-database.ts";
import { describeWithPostgres } from "../../test/support/postgres-test-server.ts";
import { createRefreshWorld, createTestClock, type RefreshWorld } from "../../test/support/refresh-world.ts";
import { createProviderDirectory } from "../providers/provider-directory.ts";
import { createPostgresStore } from "../store/postgres/store.ts";
import type { Store } from "../store/store.ts";

const maintenanceUrl = process.env.NEXUS_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

await describeWithPostgres("refresh engine on PostgreSQL", { maintenanceUrl, isRequired: Boolean(process.env.CI) }, (url) => {
  let database: TestDatabase | undefined;
  let stores: Store[] = [];
  let world: RefreshWorld;

  beforeEach(async () => {
    database = await createTestDatabase(url);
    const connectionString = database.url;
    // Real time: both replicas' leases and polls run on the wall clock.
    const clock = createTestClock(Date.now());
    clock.now = Date.now;
    stores = await Promise.all([1, 2].map(() => createPostgresStore({ connectionString, poolMax: 4, now: Date.now })));
    world = await createRefreshWorld(stores[0]!, clock);
  });
  afterEach(async () => {
    await Promise.all(stores.map((store) => store.close()));
    await database?.drop();
  });

  /** Two engines, one per store (pool), with distinct lease owners. */
  const replicas = (sleep?: (ms: number) => Promise<void>) => {
    const other = stores[1]!;
    const common = { now: Date.now, sleep };
    return [
      world.engine({ ...common, owner: "replica-a" }),
      world.engine({
        ...common,
        owner: "replica-b",
        store: other,
        providers: createProviderDirectory({ store: other, vault: world.vault }),
      }),
    ] as const;
  };

  it("two replicas refreshing one expired connection make one grant call", async () => {
    const connection = await world.connect({ refreshToken: "rt-1", expiresAtSeconds: Math.floor(Date.now() / 1000) - 1 });
    // The provider answers only once the other replica found the lease taken and paused to poll it
    // again: the race is certain, not left to timing.
    const leasePolled = Promise.withResolvers<void>();
    world.endpoint.reply = async () => {
      await leasePolled.promise;
      return { body: { access_token: "at-new", token_type: "Bearer", expires_in: 3600, refresh_token: "rt-2" } };
    };
    const sleep = (ms: number) => {
      leasePolled.resolve();
      return new Promise<void>((resolve) => setTimeout(resolve, ms));
    };
    const [a, b] = replicas(sleep);
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).ensureFresh(connection)));
    assert.equal(world.endpoint.requests.length, 1);
    assert.ok(results.every((r) => r.version === 2 && r.secret.kind === "oauth2" && r.secret.refreshToken === "rt-2"));
  });

  it("a replica that dies holding the lease is taken over after leaseMs", async () => {
    const connection = await world.connect({ refreshToken: "rt-1", expiresAtSeconds: Math.floor(Date.now() / 1000) + 3600 });
    const leaseMs = 400;
    assert.ok(await stores[1]!.claimRefreshLease(connection.id, "dead-replica", leaseMs, Date.now()));
    const engine = world.engine({ now: Date.now, sleep: undefined, owner: "replica-a", leaseMs });
    const started = Date.now();
    const result = await engine.forceRefresh(connection);
    const waited = Date.now() - started;
    assert.equal(result.version, 2);
    assert.equal(world.endpoint.requests.length, 1);
    assert.ok(waited >= leaseMs - 20, `took over after ${waited} ms`);
  });
});
