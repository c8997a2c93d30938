/**
 * Webhook delivery across process deaths and replicas, with real `node server/main.ts` processes:
 * - a server killed with SIGKILL between the change and the delivery's answer (the receiver holds the
 *   request open) delivers after a restart, with the same webhook-id, verified by `standardwebhooks`
 *   (SQLite: the restart opens the same data directory; PostgreSQL: the same database);
 * - three PostgreSQL replicas deliver each event exactly once (the per-endpoint lease).
 * Changes are written straight to the store, the way the CLI's direct mode does, so the event is in
 * the log in the change's transaction and no replica's API call is involved.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { Webhook } from "standardwebhooks";
import { generateApiKeySecret } from "../server/auth/api-key-secret.ts";
import { systemNow } from "../server/config/defaults.ts";
import { createPostgresStore } from "../server/store/postgres/store.ts";
import { createSqliteStore } from "../server/store/sqlite/store.ts";
import type { Store } from "../server/store/store.ts";
import { generateKeyringText } from "../server/vault/keyring.ts";
import { createTestDatabase, type TestDatabase } from "./support/postgres-test-database.ts";
import { type ReplicaProcess, spawnReplica } from "./support/replica-process.ts";
import { createTempDataDir } from "./support/temp-data-dir.ts";
import { TEST_STORE } from "./support/test-store.ts";
import { eventually } from "./support/wait.ts";
import { startWebhookReceiver } from "./support/webhook-receiver.ts";

const MAINTENANCE_URL = process.env.NEXUS_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const TENANT = "acme";

/** Shared settings of every replica: keys, loopback receiver allowed, short timeout and lease. */
function replicaEnv(adminKey: string, keys: string): Record<string, string> {
  return {
    NEXUS_ENCRYPTION_KEYS: keys,
    NEXUS_ADMIN_API_KEY: adminKey,
    NEXUS_WEBHOOK_ALLOW_HTTP: "true",
    NEXUS_WEBHOOK_ALLOWED_CIDRS: "127.0.0.0/8",
    NEXUS_WEBHOOK_POLL_INTERVAL_MS: "50",
    NEXUS_WEBHOOK_TIMEOUT_MS: "3000",
    NEXUS_WEBHOOK_LEASE_MS: "3500",
  };
}

async function rest(baseUrl: string, adminKey: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminKey}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  // biome-ignore lint/suspicious/noExplicitAny: REST JSON read by field.
  return JSON.parse(text) as Record<string, any>;
}

describe("webhook delivery survives SIGKILL and shares work across replicas", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  test("killed between the change and the delivery: the restarted server delivers it, same webhook-id", async () => {
    const receiver = await startWebhookReceiver();
    cleanups.push(() => receiver.close());
    const adminKey = generateApiKeySecret().secret;
    const env = replicaEnv(adminKey, generateKeyringText());
    const dataDir = createTempDataDir("nexus-webhook-crash-");
    cleanups.push(() => dataDir.remove());
    let store: Store;
    if (TEST_STORE === "postgres") {
      const database: TestDatabase = await createTestDatabase(MAINTENANCE_URL);
      cleanups.push(() => database.drop());
      env.DATABASE_URL = database.url;
    } else {
      env.NEXUS_DATA_DIR = dataDir.path;
    }
    const first = await spawnReplica(env);
    cleanups.push(() => first.stop());
    if (TEST_STORE === "postgres") store = await createPostgresStore({ connectionString: env.DATABASE_URL!, now: systemNow });
    else store = await createSqliteStore({ dataDir: dataDir.path, now: systemNow });
    cleanups.push(() => store.close());
    await store.ensureTenant({ id: TENANT });
    const { secret } = await rest(first.baseUrl, adminKey, "POST", `/v1/tenants/${TENANT}/webhook-endpoints`, { url: receiver.url });

    receiver.respond = () => "hang";
    const connection = await store.createConnection({ tenantId: TENANT, userId: "alice", providerName: "github" });
    await eventually(() => receiver.received.length === 1, 15_000, "the delivery reached the receiver");
    assert.equal(await first.kill("SIGKILL"), null, "killed by the signal");

    receiver.respond = () => 204;
    const second = await spawnReplica(env);
    cleanups.push(() => second.stop());
    // The dead process's lease runs out (3.5 s), then the new one delivers the same event.
    await eventually(() => receiver.received.length === 2, 20_000, "the event delivered after the restart");
    const [lost, delivered] = receiver.received;
    assert.equal(delivered!.headers["webhook-id"], lost!.headers["webhook-id"], "stable webhook-id across the crash");
    const payload = new Webhook(secret).verify(delivered!.body, delivered!.headers) as { type: string; data: { connection_id: string } };
    assert.deepEqual([payload.type, payload.data.connection_id], ["connection.created", connection.id]);
    // Delivered once after the restart: the cursor moved and nothing else is sent for it.
    await store.updateConnectionStatus(TENANT, connection.id, "pending", "failed", null);
    await eventually(() => receiver.received.length === 3, 15_000, "the next event");
    assert.notEqual(receiver.received[2]!.headers["webhook-id"], lost!.headers["webhook-id"]);
  });

  test("three PostgreSQL replicas deliver each event once", {
    skip: TEST_STORE === "postgres" ? false : "PostgreSQL only: replicas share a database (NEXUS_TEST_STORE=postgres)",
  }, async () => {
    const receiver = await startWebhookReceiver();
    cleanups.push(() => receiver.close());
    const database = await createTestDatabase(MAINTENANCE_URL);
    cleanups.push(() => database.drop());
    const adminKey = generateApiKeySecret().secret;
    const env = { ...replicaEnv(adminKey, generateKeyringText()), DATABASE_URL: database.url };
    const replicas: ReplicaProcess[] = [];
    for (let i = 0; i < 3; i++) {
      const replica = await spawnReplica(env);
      replicas.push(replica);
      cleanups.push(() => replica.stop());
    }
    const store = await createPostgresStore({ connectionString: database.url, now: systemNow });
    cleanups.push(() => store.close());
    await store.ensureTenant({ id: TENANT });
    const { secret } = await rest(replicas[1]!.baseUrl, adminKey, "POST", `/v1/tenants/${TENANT}/webhook-endpoints`, { url: receiver.url });
    const count = 15;
    for (let i = 0; i < count; i++) await store.createConnection({ tenantId: TENANT, userId: `user-${i}`, providerName: "github" });
    await eventually(() => receiver.received.length >= count, 20_000, `${count} deliveries`);
    // Then one more, so every replica has had time to poll past the first batch.
    await store.createConnection({ tenantId: TENANT, userId: "last", providerName: "github" });
    await eventually(() => receiver.received.length >= count + 1, 20_000, "the last delivery");
    const ids = receiver.received.map((r) => r.headers["webhook-id"]);
    assert.equal(ids.length, count + 1, "no event delivered twice");
    assert.equal(new Set(ids).size, count + 1);
    const receiverView = new Webhook(secret);
    const seqs = receiver.received.map((r) => (receiverView.verify(r.body, r.headers) as { data: { seq: number } }).data.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
      "delivered in log order",
    );
  });
});
