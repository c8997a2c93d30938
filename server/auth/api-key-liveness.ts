/**
 * Keeps long-lived streams honest about their API key: a key authenticated once at a stream's start
 * must stay valid for every later delivery. Holds the revocations this process has heard of (local
 * RevokeApiKey, other replicas' notifications, periodic re-reads) and each open stream's end
 * callback, ends a key's streams the moment it is revoked or its expires_at passes, and answers the
 * per-delivery check from memory. It never reads secrets; it decides nothing about roles or routes.
 */
import { NotFoundError } from "../domain/errors.ts";
import type { Logger } from "../logging/logger.ts";
import type { Principal } from "../request/principal.ts";
import type { Store } from "../store/store.ts";

/** Why a key that once authenticated is no longer valid. */
export type KeyInvalidReason = "revoked" | "expired";

/** The liveness registry. */
export interface ApiKeyLiveness {
  /** Null while `principal`'s key is usable: not known revoked, not past its expiry. */
  check(principal: Principal): KeyInvalidReason | null;
  /** Whether this process knows `keyId` to be revoked. */
  isRevoked(keyId: string): boolean;
  /**
   * Registers an open stream of `principal`; `end` is called at most once, when the key is revoked
   * or expires. Returns the function that unregisters it (call it when the stream ends).
   */
  track(principal: Principal, end: (reason: KeyInvalidReason) => void): () => void;
  /** Records a revocation (this process's, or one announced by another replica) and ends the key's streams. */
  revoked(keyId: string): void;
  /**
   * Forgets a revocation `revoked` recorded ahead of a store write that then certainly did not
   * happen (unknown key id, a refused write), so this process stops refusing a key that is valid.
   */
  unrevoked(keyId: string): void;
  /** Re-reads the keys of open streams from the store and applies revocations found (after lost notifications). */
  recheck(): Promise<void>;
  /** Keys with open streams (for tests and a gauge). */
  trackedKeyCount(): number;
  /** Stops the timers; later streams are still checked but no longer re-read. */
  close(): void;
}

/** Options of `createApiKeyLiveness`. */
export interface ApiKeyLivenessOptions {
  store: Pick<Store, "getApiKey">;
  /** Epoch milliseconds. */
  now: () => number;
  logger: Pick<Logger, "warn">;
  /**
   * How often the keys of open streams are re-read from the store, ms; 0 turns it off. A safety net
   * for revocations no notification announced (the CLI, a dropped LISTEN connection). Default 5000.
   */
  recheckMs?: number;
  /** Told about every revocation recorded (e.g. to drop the verifier's cached record). */
  onRevoked?: (keyId: string) => void;
}

/** Revocations remembered at most; beyond it the oldest is dropped (the store still knows it). */
const MAX_REMEMBERED_REVOCATIONS = 100_000;
/** setTimeout's longest delay (about 24.8 days); longer expiries re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface TrackedKey {
  readonly expiresAtMs: number | null;
  readonly ends: Set<(reason: KeyInvalidReason) => void>;
  timer: NodeJS.Timeout | undefined;
}

/** Creates the registry and starts its re-read timer. */
export function createApiKeyLiveness(options: ApiKeyLivenessOptions): ApiKeyLiveness {
  const { store, now, logger } = options;
  const recheckMs = options.recheckMs ?? 5_000;
  const revokedKeys = new Set<string>();
  const tracked = new Map<string, TrackedKey>();
  let rechecking: Promise<void> | undefined;

  const isExpired = (expiresAtMs: number | null | undefined) => expiresAtMs != null && expiresAtMs <= now();

  const endAll = (keyId: string, reason: KeyInvalidReason) => {
    const entry = tracked.get(keyId);
    if (entry === undefined) return;
    tracked.delete(keyId);
    if (entry.timer) clearTimeout(entry.timer);
    for (const end of entry.ends) end(reason);
  };

  const armExpiry = (keyId: string, entry: TrackedKey) => {
    if (entry.expiresAtMs === null) return;
    const delayMs = Math.min(Math.max(entry.expiresAtMs - now(), 0), MAX_TIMER_MS);
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      // A timer may fire early against an injected or adjusted clock: re-arm until really due.
      if (isExpired(entry.expiresAtMs)) endAll(keyId, "expired");
      else if (tracked.get(keyId) === entry) armExpiry(keyId, entry);
    }, delayMs);
    entry.timer.unref();
  };

  const revoked = (keyId: string) => {
    if (!revokedKeys.has(keyId)) {
      if (revokedKeys.size >= MAX_REMEMBERED_REVOCATIONS) revokedKeys.delete(revokedKeys.values().next().value as string);
      revokedKeys.add(keyId);
    }
    options.onRevoked?.(keyId);
    endAll(keyId, "revoked");
  };

  const recheckOnce = async () => {
    for (const keyId of [...tracked.keys()]) {
      try {
        const record = await store.getApiKey(keyId);
        if (record.revokedAtMs !== null) revoked(keyId);
      } catch (err) {
        // A key deleted outright is as good as revoked; a failing store must not end streams.
        if (err instanceof NotFoundError) revoked(keyId);
        else logger.warn({ err, keyId }, "could not re-check an API key with open streams");
      }
    }
  };

  const recheck = () => {
    rechecking ??= recheckOnce().finally(() => {
      rechecking = undefined;
    });
    return rechecking;
  };

  const interval = recheckMs > 0 ? setInterval(() => void recheck(), recheckMs) : undefined;
  interval?.unref();

  return {
    check(principal) {
      if (revokedKeys.has(principal.keyId)) return "revoked";
      if (isExpired(principal.expiresAtMs)) return "expired";
      return null;
    },
    isRevoked: (keyId) => revokedKeys.has(keyId),
    track(principal, end) {
      const { keyId } = principal;
      let entry = tracked.get(keyId);
      if (entry === undefined) {
        entry = { expiresAtMs: principal.expiresAtMs ?? null, ends: new Set(), timer: undefined };
        tracked.set(keyId, entry);
        armExpiry(keyId, entry);
      }
      let hasEnded = false;
      const once = (reason: KeyInvalidReason) => {
        if (hasEnded) return;
        hasEnded = true;
        end(reason);
      };
      entry.ends.add(once);
      const owner = entry;
      return () => {
        hasEnded = true;
        owner.ends.delete(once);
        if (owner.ends.size === 0 && tracked.get(keyId) === owner) {
          tracked.delete(keyId);
          if (owner.timer) clearTimeout(owner.timer);
        }
      };
    },
    revoked,
    unrevoked: (keyId) => void revokedKeys.delete(keyId),
    recheck,
    trackedKeyCount: () => tracked.size,
    close() {
      if (interval) clearInterval(interval);
      for (const entry of tracked.values()) if (entry.timer) clearTimeout(entry.timer);
    },
  };
}
