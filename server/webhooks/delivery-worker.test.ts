// The delivery worker against a real SQLite store, a fake event log and a fake sender, on an
// injected clock: order, signatures a `standardwebhooks` receiver accepts (also across a secret
// rotation), backoff and the retry window, the failure list, filters, and one delivery per event
// when two workers (replicas) share the store.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { Registry } from "prom-client";
import { Webhook } from "standardwebhooks";
import { systemNow } from "../config/defaults.ts";
import { createWebhookMetrics, type WebhookMetrics } from "../metrics/webhook-metrics.ts";
import { createSqliteStore } from "../store/sqlite/store.ts";
import type { Store } from "../store/store.ts";
import { generateKeyringText, parseKeyring } from "../vault/keyring.ts";
import { createVault } from "../vault/vault.ts";
import { createDeliveryWorker, type DeliveryWorker } from "./delivery-worker.ts";
import type { Outbox, OutboxEvent } from "./outbox.ts";
import { sealWebhookSecret } from "./webhook-secrets.ts";
import type { SendOutcome } from "./webhook-sender.ts";
import { formatSecret, newSecretBytes } from "./webhook-signature.ts";

const HOUR = 3_600_000;
const BACKOFF = { baseMs: 10_000, maxMs: HOUR, minMs: 1_000 };

interface Sent {
  url: string;
  headers: Record<string, string>;
  body: string;
}

describe("webhook delivery worker", () => {
  // Near the wall clock: standardwebhooks checks the timestamp against it (±5 min).
  let nowMs = 0;
  let store: Store;
  const vault = createVault(parseKeyring(generateKeyringText()));
  let events: OutboxEvent[];
  let sent: Sent[];
  let answer: (s: Sent) => SendOutcome;
  let registry: Registry;
  let metrics: WebhookMetrics;
  let workers: DeliveryWorker[];

  const outbox: Outbox = {
    latestSeq: async () => events.reduce((max, e) => Math.max(max, e.seq), 0),
    async listEvents(tenantId, afterSeq, limit) {
      return events.filter((e) => e.tenantId === tenantId && e.seq > afterSeq).slice(0, limit);
    },
  };

  function worker(owner = "replica-a"): DeliveryWorker {
    const w = createDeliveryWorker({
      store,
      outbox,
      vault,
      send: async (url, headers, body) => {
        const s = { url, headers, body };
        sent.push(s);
        return answer(s);
      },
      now: () => nowMs,
      random: () => 0.5,
      owner,
      logger: { warn() {}, debug() {} },
      metrics,
      leaseMs: 60_000,
      pollIntervalMs: 1000,
      attemptTimeoutMs: 15_000,
      retryWindowMs: 24 * HOUR,
      backoff: BACKOFF,
      batchSize: 2,
    });
    workers.push(w);
    return w;
  }

  function event(seq: number, type = "connection.active", tenantId = "t1"): OutboxEvent {
    return {
      seq,
      eventId: `evt_${seq}`,
      type,
      occurredAtMs: nowMs,
      tenantId,
      connectionId: `conn_${seq}`,
      connection: { status: "active" },
    };
  }

  async function endpoint(eventTypes: string[] = []) {
    await store.ensureTenant({ id: "t1" });
    const bytes = newSecretBytes();
    const id = `whe_test${Math.floor(Math.random() * 1e9)}`;
    const record = await store.createWebhookEndpoint({
      id,
      tenantId: "t1",
      url: "https://hooks.example.com/in",
      eventTypes,
      secret: sealWebhookSecret(vault, id, bytes),
    });
    return { record, secret: formatSecret(bytes) };
  }

  beforeEach(async () => {
    nowMs = systemNow();
    registry = new Registry();
    workers = [];
    metrics = createWebhookMetrics(registry, () => workers[0]?.outboxStats() ?? { pendingEvents: 0, oldestPendingAgeSeconds: 0 });
    store = await createSqliteStore({ path: ":memory:", now: () => nowMs });
    events = [];
    sent = [];
    answer = () => ({ isDelivered: true, statusCode: 204 });
  });
  afterEach(async () => {
    await store.close();
  });

  it("delivers every event in sequence order, signed so a standardwebhooks receiver verifies it", async () => {
    const { record, secret } = await endpoint();
    nowMs += 1;
    events = [event(1), event(2, "connection.revoked"), event(3)];
    await worker().runOnce();
    const receiver = new Webhook(secret);
    assert.deepEqual(
      sent.map((s) => s.headers["webhook-id"]),
      ["evt_1", "evt_2", "evt_3"],
    );
    for (const s of sent) {
      const payload = receiver.verify(s.body, s.headers) as { type: string; data: { connection_id: string } };
      assert.equal(payload.data.connection_id, `conn_${s.headers["webhook-id"]!.slice(4)}`);
    }
    assert.equal((await store.getWebhookEndpoint("t1", record.id)).cursorSeq, 3);
    await worker().runOnce();
    assert.equal(sent.length, 3, "nothing is sent twice");
  });

  it("retries a failing event with backoff (no later event overtakes it), then gives up after the window onto the failure list", async () => {
    const { record } = await endpoint();
    nowMs += 1;
    events = [event(1), event(2)];
    answer = () => ({ isDelivered: false, statusCode: 503, error: "status 503" });
    const w = worker();
    await w.runOnce();
    let state = await store.getWebhookEndpoint("t1", record.id);
    assert.deepEqual([state.cursorSeq, state.attemptCount, state.lastError], [0, 1, "status 503"]);
    // random 0.5 of a 10 s ceiling: the first retry is due 5 s later.
    assert.equal(state.nextAttemptAtMs, nowMs + 5_000);
    await w.runOnce();
    assert.equal(sent.length, 1, "not due yet");
    nowMs += 5_000;
    await w.runOnce();
    state = await store.getWebhookEndpoint("t1", record.id);
    assert.deepEqual([sent.length, state.attemptCount, state.nextAttemptAtMs], [2, 2, nowMs + 10_000]);
    assert.ok(
      sent.every((s) => s.headers["webhook-id"] === "evt_1"),
      "same webhook-id on every attempt; evt_2 waits",
    );
    // Keep failing until 24 h after the first failure have passed.
    let rounds = 0;
    while ((await store.getWebhookEndpoint("t1", record.id)).cursorSeq === 0) {
      nowMs = (await store.getWebhookEndpoint("t1", record.id)).nextAttemptAtMs!;
      await w.runOnce();
      assert.ok(++rounds < 100, "gives up in bounded attempts");
    }
    const lastAttempt = nowMs;
    assert.ok(lastAttempt - (state.firstFailedAtMs ?? 0) >= 24 * HOUR);
    const failures = await store.listWebhookDeliveries("t1", record.id, {});
    assert.equal(failures.items.length, 1);
    const [failed] = failures.items;
    assert.deepEqual(
      [failed!.eventId, failed!.eventSeq, failed!.lastStatusCode, failed!.attemptCount],
      ["evt_1", 1, 503, sent.filter((x) => x.headers["webhook-id"] === "evt_1").length],
    );
    // The cursor moved on: evt_2 was tried next in the same pass (and failed), and succeeds once the receiver is back.
    assert.equal(sent.at(-1)!.headers["webhook-id"], "evt_2");
    answer = () => ({ isDelivered: true, statusCode: 200 });
    nowMs = (await store.getWebhookEndpoint("t1", record.id)).nextAttemptAtMs!;
    await w.runOnce();
    assert.equal(sent.at(-1)!.headers["webhook-id"], "evt_2");
    assert.equal((await store.getWebhookEndpoint("t1", record.id)).cursorSeq, 2);
    const metrics = await registry.getSingleMetricAsString("nexus_webhook_deliveries_total");
    assert.match(metrics, /outcome="failed"} 1/);
    assert.match(metrics, /outcome="delivered"} 1/);
  });

  it("passes over filtered types and events older than the endpoint without a request", async () => {
    events = [event(1)];
    nowMs += 10;
    const { record } = await endpoint(["connection.revoked"]);
    nowMs += 10;
    events.push(event(2, "connection.active"), event(3, "connection.revoked"));
    await worker().runOnce();
    assert.deepEqual(
      sent.map((s) => s.headers["webhook-id"]),
      ["evt_3"],
    );
    assert.equal((await store.getWebhookEndpoint("t1", record.id)).cursorSeq, 3);
  });

  it("signs with both secrets during a rotation's overlap, and only the new one after it", async () => {
    const { record, secret: oldSecret } = await endpoint();
    const bytes = newSecretBytes();
    await store.rotateWebhookSecret("t1", record.id, sealWebhookSecret(vault, record.id, bytes), nowMs + HOUR);
    const newSecret = formatSecret(bytes);
    nowMs += 1;
    events = [event(1)];
    await worker().runOnce();
    const [during] = sent;
    assert.equal(during!.headers["webhook-signature"]!.split(" ").length, 2);
    assert.ok(new Webhook(oldSecret).verify(during!.body, during!.headers), "receivers still on the old secret verify");
    assert.ok(new Webhook(newSecret).verify(during!.body, during!.headers), "receivers on the new secret verify");
    // After the overlap (clock moved past it), only the new secret signs. Keep the timestamp checkable:
    // the overlap here ends 1 ms after the delivery instead of waiting an hour.
    await store.rotateWebhookSecret("t1", record.id, sealWebhookSecret(vault, record.id, newSecretBytes()), nowMs + 1);
    nowMs += 2;
    events.push(event(2));
    await worker().runOnce();
    const after = sent[1]!;
    assert.equal(after.headers["webhook-signature"]!.split(" ").length, 1);
    assert.throws(() => new Webhook(newSecret).verify(after.body, after.headers));
  });

  it("two workers sharing the store deliver each event once", async () => {
    await endpoint();
    await endpoint();
    nowMs += 1;
    events = Array.from({ length: 9 }, (_, i) => event(i + 1));
    const [a, b] = [worker("replica-a"), worker("replica-b")];
    await Promise.all([a.runOnce(), b.runOnce(), a.runOnce(), b.runOnce()]);
    const perEndpoint = new Map<string, string[]>();
    for (const s of sent) {
      const key = s.headers["webhook-signature"]!;
      perEndpoint.set(key, [...(perEndpoint.get(key) ?? []), s.headers["webhook-id"]!]);
    }
    // Two endpoints × 9 events, each once (signatures differ per endpoint secret).
    assert.equal(sent.length, 18);
    const ids = sent.map((s) => s.headers["webhook-id"]).sort();
    assert.deepEqual(
      ids,
      [...Array.from({ length: 9 }, (_, i) => `evt_${i + 1}`), ...Array.from({ length: 9 }, (_, i) => `evt_${i + 1}`)].sort(),
    );
  });

  it("a caught-up endpoint's cursor follows the whole log (other tenants' events), so it never holds back retention", async () => {
    const { record } = await endpoint();
    nowMs += 1;
    events = [event(1, "connection.active", "t2"), event(2, "connection.active", "t2"), event(3)];
    await worker().runOnce();
    assert.deepEqual(
      sent.map((s) => s.headers["webhook-id"]),
      ["evt_3"],
    );
    events.push(event(4, "connection.active", "t2"), event(5, "connection.active", "t2"));
    await worker().runOnce();
    assert.equal((await store.getWebhookEndpoint("t1", record.id)).cursorSeq, 5);
    assert.equal(await store.oldestWebhookCursorSeq(), 5);
  });
});
