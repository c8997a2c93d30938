/**
 * The webhook delivery worker. For each enabled endpoint that is due, it claims the endpoint's
 * lease (one atomic UPDATE, so exactly one replica delivers an endpoint at a time), reads the
 * tenant's events after the endpoint's cursor in sequence order and POSTs them one by one:
 *
 * - 2xx → the cursor moves past the event (fenced by the lease: a replica that lost it writes nothing).
 * - anything else → the retry state is stored (attempt count, next attempt with exponential backoff
 *   and full jitter) and the endpoint waits: later events are not sent before it (per-endpoint order).
 * - still failing `retryWindowMs` after its first failure → the event goes on the failure list (with
 *   the body sent, for ReplayWebhookDelivery) and the cursor moves on; the endpoint stays enabled.
 *
 * Events filtered out by the endpoint's type list, and events older than the endpoint, are passed
 * over without a request. All state is in the store, so a restart (or another replica, once the lease
 * runs out) continues where delivery stopped: at least once, with the event id as a stable
 * webhook-id. It wakes on `wake()` (this process wrote an event) and polls every `pollIntervalMs`
 * (retries that came due, events other replicas wrote).
 */

import type { Logger } from "../logging/logger.ts";
import type { WebhookMetrics } from "../metrics/webhook-metrics.ts";
import { retryDelayMs } from "../refresh/backoff.ts";
import type { Store, WebhookEndpointRecord } from "../store/store.ts";
import type { Vault } from "../vault/vault.ts";
import { type Outbox, type OutboxEvent, webhookPayload } from "./outbox.ts";
import { signingSecrets } from "./webhook-secrets.ts";
import type { WebhookSender } from "./webhook-sender.ts";
import { signWebhook } from "./webhook-signature.ts";

/** The store methods the worker uses. */
export type DeliveryStore = Pick<
  Store,
  "listDueWebhookEndpoints" | "claimWebhookLease" | "releaseWebhookLease" | "advanceWebhookCursor" | "recordWebhookRetry"
>;

/** Options of `createDeliveryWorker`. */
export interface DeliveryWorkerOptions {
  store: DeliveryStore;
  outbox: Outbox;
  vault: Pick<Vault, "open">;
  send: WebhookSender;
  /** The app's clock, epoch ms. */
  now: () => number;
  random: () => number;
  /** This replica's lease owner id. */
  owner: string;
  logger: Pick<Logger, "warn" | "debug">;
  metrics: WebhookMetrics;
  /** Lease length, ms; it must exceed one request's timeout (`attemptTimeoutMs`). */
  leaseMs: number;
  pollIntervalMs: number;
  /** Longest one request may take, ms: the lease is renewed before a request unless it has well over this left. */
  attemptTimeoutMs: number;
  /** How long an event is retried after its first failure before it goes on the failure list, ms. */
  retryWindowMs: number;
  backoff: { baseMs: number; maxMs: number; minMs: number };
  /** Events read per query. Default 50. */
  batchSize?: number;
  /** Endpoints delivered at once by this process. Default 4. */
  concurrency?: number;
}

/** The running worker. */
export interface DeliveryWorker {
  /** Starts polling (and delivers at once). */
  start(): void;
  /** Asks for a pass soon (new events were written). */
  wake(): void;
  /** One full pass over the due endpoints; resolves when it is done (tests drive the worker with it). */
  runOnce(): Promise<void>;
  /** Stops polling and waits for the pass in progress. */
  stop(): Promise<void>;
  /** Outbox figures for the metrics. */
  outboxStats(): { pendingEvents: number; oldestPendingAgeSeconds: number };
}

/** Endpoints read per page of a pass; a pass pages through every due endpoint. */
const DUE_PAGE = 100;

/** Creates the worker; nothing runs before `start()` or `runOnce()`. */
export function createDeliveryWorker(options: DeliveryWorkerOptions): DeliveryWorker {
  const { store, outbox, now, owner, logger, metrics } = options;
  const batchSize = options.batchSize ?? 50;
  const concurrency = options.concurrency ?? 4;
  const pending = new Map<string, { count: number; oldestMs: number }>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let isStopped = true;
  // Aborts requests in flight at stop(), so shutdown never waits out a slow receiver.
  let stopping = new AbortController();

  async function pass(): Promise<void> {
    let after: { createdAtMs: number; id: string } | undefined;
    for (;;) {
      const due = await store.listDueWebhookEndpoints(now(), DUE_PAGE, after);
      await deliverAll(due);
      if (due.length < DUE_PAGE || isStopped) return;
      const last = due.at(-1)!;
      after = { createdAtMs: last.createdAtMs, id: last.id };
    }
  }

  async function deliverAll(due: readonly WebhookEndpointRecord[]): Promise<void> {
    let next = 0;
    const lanes = Array.from({ length: Math.min(concurrency, due.length) }, async () => {
      while (next < due.length) {
        const endpoint = due[next++]!;
        await deliverEndpoint(endpoint.id).catch((err: unknown) =>
          logger.warn(
            { err: { name: (err as Error).name, message: (err as Error).message }, endpointId: endpoint.id },
            "webhook delivery pass failed",
          ),
        );
      }
    });
    await Promise.all(lanes);
  }

  async function deliverEndpoint(endpointId: string): Promise<void> {
    let endpoint = await store.claimWebhookLease(endpointId, owner, options.leaseMs, now());
    if (!endpoint) return;
    const lease = { untilMs: now() + options.leaseMs };
    try {
      for (;;) {
        const horizon = await outbox.latestSeq();
        const events = await outbox.listEvents(endpoint.tenantId, endpoint.cursorSeq, batchSize);
        notePending(endpoint.id, events);
        if (events.length === 0) {
          // Caught up: the cursor follows the whole log, so an endpoint of a quiet tenant never
          // holds back the log's retention (which keeps what the lowest cursor has not passed).
          if (horizon > endpoint.cursorSeq) await store.advanceWebhookCursor(endpoint.id, owner, horizon);
          return;
        }
        for (const event of events) {
          const result = await deliverEvent(endpoint, event, lease);
          if (result === "stop") return;
          endpoint = result;
        }
        // Between batches the endpoint is re-read with the lease renewed: a disable, a new URL or a
        // rotated secret applies from the next batch on.
        const cursorSeq = endpoint.cursorSeq;
        const reread = await store.claimWebhookLease(endpointId, owner, options.leaseMs, now());
        if (!reread || reread.cursorSeq !== cursorSeq) return;
        endpoint = reread;
        lease.untilMs = now() + options.leaseMs;
      }
    } finally {
      await store.releaseWebhookLease(endpointId, owner);
    }
  }

  /** Delivers one event; returns the endpoint as it now stands, or "stop" (retry later, or lease lost). */
  async function deliverEvent(
    endpoint: WebhookEndpointRecord,
    event: OutboxEvent,
    lease: { untilMs: number },
  ): Promise<WebhookEndpointRecord | "stop"> {
    const isWanted = endpoint.eventTypes.length === 0 || endpoint.eventTypes.includes(event.type);
    if (!isWanted || event.occurredAtMs < endpoint.createdAtMs) {
      metrics.deliveries.inc({ outcome: "skipped" });
      return advance(endpoint, event.seq);
    }
    // Renewed (and the endpoint re-read) before a request that could outlast the lease; a holder that
    // stalls longer than its lease loses the endpoint, and every cursor move is fenced by the lease.
    let renewed: WebhookEndpointRecord | null = endpoint;
    if (now() + 1.5 * options.attemptTimeoutMs >= lease.untilMs) {
      renewed = await store.claimWebhookLease(endpoint.id, owner, options.leaseMs, now());
      if (!renewed || renewed.cursorSeq !== endpoint.cursorSeq) return "stop";
      lease.untilMs = now() + options.leaseMs;
    }
    const body = JSON.stringify(webhookPayload(event));
    const sentAtMs = now();
    const headers = signWebhook(signingSecrets(options.vault, renewed, sentAtMs), event.eventId, sentAtMs / 1000, body);
    const outcome = await options.send(renewed.url, { ...headers }, body, stopping.signal);
    // Stopped mid-request: nothing is recorded; the lease runs out or is released, and the event is sent again.
    if (stopping.signal.aborted && !outcome.isDelivered) return "stop";
    if (outcome.isDelivered) {
      metrics.deliveries.inc({ outcome: "delivered" });
      return advance(renewed, event.seq);
    }
    const failedAtMs = now();
    const firstFailedAtMs = renewed.firstFailedAtMs ?? failedAtMs;
    const attemptCount = renewed.attemptCount + 1;
    if (failedAtMs - firstFailedAtMs >= options.retryWindowMs) {
      metrics.deliveries.inc({ outcome: "failed" });
      logger.warn(
        { endpointId: renewed.id, eventId: event.eventId, attemptCount, error: outcome.error },
        "webhook event given up after the retry window",
      );
      const moved = await store.advanceWebhookCursor(renewed.id, owner, event.seq, {
        eventId: event.eventId,
        eventType: event.type,
        eventSeq: event.seq,
        payload: webhookPayload(event),
        attemptCount,
        lastError: outcome.error,
        lastStatusCode: outcome.statusCode,
      });
      return moved ? { ...renewed, ...cleared(event.seq) } : "stop";
    }
    metrics.deliveries.inc({ outcome: "retry" });
    const nextAttemptAtMs = failedAtMs + retryDelayMs(attemptCount, options.backoff, options.random);
    logger.debug(
      { endpointId: renewed.id, eventId: event.eventId, attemptCount, error: outcome.error },
      "webhook attempt failed; retrying later",
    );
    await store.recordWebhookRetry(renewed.id, owner, { attemptCount, nextAttemptAtMs, firstFailedAtMs, lastError: outcome.error });
    return "stop";
  }

  async function advance(endpoint: WebhookEndpointRecord, seq: number): Promise<WebhookEndpointRecord | "stop"> {
    const moved = await store.advanceWebhookCursor(endpoint.id, owner, seq);
    return moved ? { ...endpoint, ...cleared(seq) } : "stop";
  }

  function notePending(endpointId: string, events: readonly OutboxEvent[]) {
    if (events.length === 0) pending.delete(endpointId);
    else pending.set(endpointId, { count: events.length, oldestMs: events[0]!.occurredAtMs });
  }

  function schedule(delayMs: number) {
    if (isStopped) return;
    clearTimeout(timer);
    timer = setTimeout(() => void runOnce(), delayMs);
  }

  function runOnce(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await pass();
        } catch (err) {
          logger.warn({ err: { name: (err as Error).name, message: (err as Error).message } }, "webhook delivery pass failed");
        }
      } while (again && !isStopped);
    })().finally(() => {
      running = undefined;
      schedule(options.pollIntervalMs);
    });
    return running;
  }

  return {
    start() {
      isStopped = false;
      stopping = new AbortController();
      void runOnce();
    },
    wake() {
      if (!isStopped) void runOnce();
    },
    runOnce,
    async stop() {
      isStopped = true;
      clearTimeout(timer);
      stopping.abort();
      await running;
    },
    outboxStats() {
      let count = 0;
      let oldest = Number.POSITIVE_INFINITY;
      for (const entry of pending.values()) {
        count += entry.count;
        oldest = Math.min(oldest, entry.oldestMs);
      }
      return { pendingEvents: count, oldestPendingAgeSeconds: count === 0 ? 0 : Math.max(0, (now() - oldest) / 1000) };
    },
  };
}

function cleared(seq: number) {
  return { cursorSeq: seq, attemptCount: 0, nextAttemptAtMs: null, firstFailedAtMs: null, lastError: null };
}
