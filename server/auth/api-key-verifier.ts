/**
 * Verifies presented API keys on the hot path: hash, look up, check revocation and expiry. A
 * verified key's record is cached for `cacheMs` (default 5 s), so most requests cost one SHA-256
 * and a map lookup. A revocation this process hears of (its own RevokeApiKey, another replica's
 * notification: `forget` plus `isRevoked`) takes effect at once; one nothing announced (the CLI)
 * within `cacheMs`. Expiry is checked on every call.
 * Unknown keys are not cached (a key created a moment ago must work), and it never logs a secret.
 */
import { DEFAULT_API_KEY_CACHE_MS } from "../config/defaults.ts";
import { type Principal, principalOf } from "../request/principal.ts";
import type { ApiKeyRecord, Store } from "../store/store.ts";
import { hashApiKeySecret, isPlausibleApiKey } from "./api-key-secret.ts";

/** Why a key was refused. */
export type ApiKeyRefusal = "malformed" | "unknown" | "revoked" | "expired";

/** The outcome of `verify`. `keyId` is set for refusals of a key that exists (revoked, expired). */
export type ApiKeyVerdict = { ok: true; principal: Principal } | { ok: false; reason: ApiKeyRefusal; keyId?: string };

/** Verifies API keys. */
export interface ApiKeyVerifier {
  /** Checks a presented secret. Rejects only when the store fails. */
  verify(secret: string): Promise<ApiKeyVerdict>;
  /**
   * `verify`'s verdict when it needs no store read (a malformed secret, or a key whose record is
   * cached), at once; undefined when `verify` would read the store. Same checks, same verdicts.
   */
  verifyCached(secret: string): ApiKeyVerdict | undefined;
  /** Drops a key from the cache (after revoking it), so the next request re-reads it. */
  forget(keyId: string): void;
}

/** Options of `createApiKeyVerifier`. */
export interface ApiKeyVerifierOptions {
  store: Pick<Store, "findApiKeyByHash" | "markApiKeyUsed">;
  /** Epoch milliseconds. */
  now: () => number;
  /** How long a verified record is reused, in ms; 0 disables the cache. Default DEFAULT_API_KEY_CACHE_MS (config/defaults.ts). */
  cacheMs?: number;
  /** Most cached keys; the oldest entry goes first. Default 10 000. */
  maxCachedKeys?: number;
  /** `last_used_time` is written at most this often per key, in ms. Default 60 000 (the API says once a minute). */
  touchIntervalMs?: number;
  /** Revocations heard of but maybe not yet in a cached record (server/auth/api-key-liveness.ts). */
  isRevoked?: (keyId: string) => boolean;
  /** Called when recording `last_used_time` fails (it never fails the request). */
  onTouchError?: (err: unknown) => void;
}

interface CacheEntry {
  record: ApiKeyRecord;
  cachedUntilMs: number;
  /** The record's principal, built once (read-only; shared by the requests of the key). */
  principal: Principal;
}

const MALFORMED: ApiKeyVerdict = { ok: false, reason: "malformed" };
const UNKNOWN: ApiKeyVerdict = { ok: false, reason: "unknown" };

/** Creates the verifier. */
export function createApiKeyVerifier(options: ApiKeyVerifierOptions): ApiKeyVerifier {
  const { store, now } = options;
  const cacheMs = options.cacheMs ?? DEFAULT_API_KEY_CACHE_MS;
  const maxCachedKeys = options.maxCachedKeys ?? 10_000;
  const touchIntervalMs = options.touchIntervalMs ?? 60_000;
  const cache = new Map<string, CacheEntry>();
  const touchedAtMs = new Map<string, number>();

  const remember = (hash: string, record: ApiKeyRecord, nowMs: number): CacheEntry => {
    const entry = { record, cachedUntilMs: nowMs + cacheMs, principal: principalOf(record) };
    if (cacheMs > 0) {
      if (cache.size >= maxCachedKeys) cache.delete(cache.keys().next().value as string);
      cache.set(hash, entry);
    }
    return entry;
  };

  const touch = (record: ApiKeyRecord, nowMs: number) => {
    const last = touchedAtMs.get(record.id) ?? record.lastUsedAtMs ?? Number.NEGATIVE_INFINITY;
    if (nowMs - last < touchIntervalMs) return;
    touchedAtMs.set(record.id, nowMs);
    if (touchedAtMs.size > maxCachedKeys) touchedAtMs.delete(touchedAtMs.keys().next().value as string);
    store.markApiKeyUsed(record.id, nowMs).catch((err: unknown) => options.onTouchError?.(err));
  };

  /** The verdict on a record (cached or just read) at `nowMs`. */
  const verdictOf = (entry: CacheEntry, nowMs: number): ApiKeyVerdict => {
    const { record } = entry;
    // The set catches a record read just before a revocation and cached just after its `forget`.
    if (record.revokedAtMs !== null || options.isRevoked?.(record.id) === true) return { ok: false, reason: "revoked", keyId: record.id };
    if (record.expiresAtMs !== null && record.expiresAtMs <= nowMs) return { ok: false, reason: "expired", keyId: record.id };
    touch(record, nowMs);
    return { ok: true, principal: entry.principal };
  };

  /** The cached entry of a digest, if still fresh (a stale one is dropped). */
  const cachedEntry = (hash: string, nowMs: number): CacheEntry | undefined => {
    const cached = cache.get(hash);
    if (cached === undefined) return undefined;
    if (cached.cachedUntilMs > nowMs) return cached;
    cache.delete(hash);
    return undefined;
  };

  return {
    verifyCached(secret) {
      if (!isPlausibleApiKey(secret)) return MALFORMED;
      const nowMs = now();
      const entry = cachedEntry(hashApiKeySecret(secret), nowMs);
      return entry === undefined ? undefined : verdictOf(entry, nowMs);
    },
    async verify(secret) {
      if (!isPlausibleApiKey(secret)) return MALFORMED;
      const hash = hashApiKeySecret(secret);
      const readAtMs = now();
      let entry = cachedEntry(hash, readAtMs);
      if (entry === undefined) {
        const record = await store.findApiKeyByHash(hash);
        if (record === null) return UNKNOWN;
        entry = remember(hash, record, readAtMs);
      }
      return verdictOf(entry, now());
    },
    forget(keyId) {
      for (const [hash, entry] of cache) if (entry.record.id === keyId) cache.delete(hash);
    },
  };
}
