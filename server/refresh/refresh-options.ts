/**
 * The refresh engine's options and the events it emits, apart from the engine so that a flight
 * (flight-result.ts) can name its share of the options without importing the engine that runs it.
 * refresh-engine.ts re-exports these types; callers import them from there.
 */
import type { ConnectionStatus } from "../domain/connection-status.ts";
import type { StoredSecret } from "../domain/stored-secret.ts";
import type { Logger } from "../logging/logger.ts";
import type { TokenFailure } from "../oauth/token-failure.ts";
import type { ProviderDirectory } from "../providers/provider-directory.ts";
import type { Store } from "../store/store.ts";
import type { Vault } from "../vault/vault.ts";
import type { BackoffOptions } from "./backoff.ts";
import type { ProviderGrant } from "./provider-grant.ts";
import type { RefreshMetrics } from "./refresh-metrics.ts";

/** A usable credential and its version. */
export interface FreshCredential {
  secret: StoredSecret;
  version: number;
}

/** Emitted after the engine saved a new credential version (no secret in it). */
export interface CredentialChangedEvent {
  tenantId: string;
  connectionId: string;
  version: number;
  /** "success", or "rotated" when the provider issued a new refresh token. */
  outcome: "success" | "rotated";
}

/** Emitted after the engine moved a connection out of active. */
export interface StatusChangedEvent {
  tenantId: string;
  connectionId: string;
  status: ConnectionStatus;
  reason: string | null;
}

/** Dependencies and settings of the engine. */
export interface RefreshEngineOptions {
  store: Store;
  vault: Vault;
  providers: Pick<ProviderDirectory, "getWithSecret">;
  /** The provider call; production: `createProviderGrant(oauthClient)`. */
  refreshGrant: ProviderGrant;
  /** Sorts provider failures; default server/oauth's `classifyTokenFailure`. */
  classify?: (err: unknown) => TokenFailure;
  /** Epoch milliseconds. */
  now: () => number;
  /** Uniform in [0, 1): jitter of schedules, backoff and lease polling. */
  random: () => number;
  /** This replica's lease owner id; must be unique per process (e.g. hostname + pid + random). */
  owner: string;
  /** Refresh an access token this long before it expires (halved for short-lived tokens), ms (Config.refreshSkewMs). */
  skewMs: number;
  /**
   * How long a refresh lease lasts without renewal, ms: a dead holder is taken over this long after
   * its last renewal (Config.refreshLeaseMs).
   */
  leaseMs: number;
  /** How often the holder renews its lease while its flight runs, ms. Default 30 % of leaseMs. */
  leaseRenewMs?: number;
  /** Runs `fn` every `ms` until the returned function is called (lease renewal). Default setInterval, unref'd. */
  every?: (ms: number, fn: () => void) => () => void;
  /**
   * Longest wait, ms, of a read whose token has expired for the refresh to finish; then it answers
   * ProviderUnavailableError and the refresh carries on. Reads of unexpired tokens never wait (Config.refreshReadWaitMs).
   */
  readWaitMs: number;
  /**
   * How long, ms, a flight keeps retrying the save of tokens the provider issued (store outage);
   * then it gives up, logs an error, counts save_failed and leaves its lease to run out with the
   * calling mark. Default 30 s.
   */
  saveRetryMs?: number;
  /**
   * How long, ms, a taker of an interrupted lease whose retry got invalid_grant waits for the
   * previous holder to save (it may have been slow, not dead) before marking the connection
   * refresh_lost_in_crash. Default the provider call timeout (10 s).
   */
  takeoverWaitMs?: number;
  /** Retry delays after transient and configuration failures; see backoff.ts. */
  backoff?: BackoffOptions;
  /** Waits `ms` (lease polling, save retries). Default node:timers/promises setTimeout. */
  sleep?: (ms: number) => Promise<void>;
  logger: Logger;
  metrics?: RefreshMetrics;
  /** Whether to schedule a proactive refresh after each refresh (watched or keep-fresh connections). Default never. */
  shouldKeepFresh?: (connectionId: string) => boolean;
  /** Called after a new credential version is saved; must not throw (errors are logged). */
  onCredentialChanged?: (event: CredentialChangedEvent) => void;
  /** Called after a connection left active (attention_required, expired); must not throw. */
  onStatusChanged?: (event: StatusChangedEvent) => void;
}
