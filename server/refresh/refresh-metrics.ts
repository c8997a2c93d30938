/**
 * Refresh metrics on a caller-supplied prom-client Registry (never the global one). Labels are
 * closed sets (outcome, grant type): never a connection id, provider error text or token.
 */
import { Counter, Histogram, type Registry } from "../metrics/prom-client-parts.ts";

/** How one refresh ended, as counted by `nexus_refresh_total`. */
export type RefreshMetricOutcome =
  | "success"
  | "rotated"
  | "invalid_grant"
  | "refresh_lost_in_crash"
  | "transient"
  | "config_error"
  | "superseded"
  | "no_refresh_token"
  | "save_failed";

/** The refresh engine's instruments. */
export interface RefreshMetrics {
  /**
   * Refreshes by outcome: success (provider kept the refresh token), rotated (it issued a new one),
   * invalid_grant (dead grant → attention_required), refresh_lost_in_crash (invalid_grant right after
   * a lease holder died mid-call: the rotated token was lost; → attention_required), transient, config_error, superseded (our
   * save lost to a newer credential: the lease ran out under us), no_refresh_token (expired → expired), save_failed (the provider answered but the store stayed
   * unavailable for the whole save budget: the new tokens are lost; alert on it).
   */
  readonly refreshes: Counter<"outcome">;
  /** Duration of the provider's token-endpoint call, seconds, by grant type. */
  readonly providerSeconds: Histogram<"grant">;
}

/** Registers the refresh metrics on `registry`. */
export function createRefreshMetrics(registry: Registry): RefreshMetrics {
  return {
    refreshes: new Counter({
      name: "nexus_refresh_total",
      help: "Credential refreshes by outcome.",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    providerSeconds: new Histogram({
      name: "nexus_refresh_provider_seconds",
      help: "Duration of the provider token-endpoint call during a refresh, seconds.",
      labelNames: ["grant"],
      buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
  };
}
