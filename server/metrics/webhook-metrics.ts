/**
 * Webhook delivery metrics on the server's registry. Labels are outcomes only, never endpoint ids,
 * URLs or tenants (unbounded, and URLs may carry tokens).
 */
import { Counter, Gauge, type Registry } from "./prom-client-parts.ts";

/** Outcomes of one delivery attempt. */
export type WebhookAttemptOutcome = "delivered" | "retry" | "failed" | "skipped" | "replayed" | "replay_failed";

/** The webhook instruments the delivery worker feeds. */
export interface WebhookMetrics {
  /**
   * Delivery attempts by outcome: delivered (2xx), retry (failed, tried again later), failed (given
   * up after the retry window: on the failure list), skipped (filtered out, or older than the endpoint),
   * replayed / replay_failed (ReplayWebhookDelivery).
   */
  readonly deliveries: Counter<"outcome">;
}

/**
 * Registers the webhook metrics. `outbox` is read at scrape time: events this process last saw
 * waiting for endpoints it delivers (read at most one batch ahead per endpoint) and the age of the
 * oldest of them.
 */
export function createWebhookMetrics(
  registry: Registry,
  outbox: () => { pendingEvents: number; oldestPendingAgeSeconds: number },
): WebhookMetrics {
  new Gauge({
    name: "nexus_webhook_outbox_depth",
    help: "Connection events not yet delivered to the webhook endpoints this process last worked on (counted up to one batch per endpoint).",
    registers: [registry],
    collect() {
      this.set(outbox().pendingEvents);
    },
  });
  new Gauge({
    name: "nexus_webhook_outbox_lag_seconds",
    help: "Age of the oldest connection event not yet delivered to a webhook endpoint this process works on; 0 when none waits.",
    registers: [registry],
    collect() {
      this.set(outbox().oldestPendingAgeSeconds);
    },
  });
  return {
    deliveries: new Counter({
      name: "nexus_webhook_deliveries_total",
      help: "Webhook delivery attempts by outcome (delivered, retry, failed, skipped, replayed, replay_failed).",
      labelNames: ["outcome"],
      registers: [registry],
    }),
  };
}
