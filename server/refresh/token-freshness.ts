/**
 * When a stored credential counts as expiring, expired, and when the scheduler should next look at
 * it. The refresh margin ("skew") shrinks for short-lived tokens, so a provider issuing 60-second
 * tokens is refreshed at half-life instead of on every read. Pure functions over times passed in.
 */
import type { StoredSecret } from "../domain/stored-secret.ts";
import type { ConnectionRecord } from "../store/store.ts";
import type { StoredCredential } from "./credential-access.ts";

/** Expiry of a secret in epoch milliseconds, or undefined when it does not expire. */
export function expiresAtMs(secret: StoredSecret): number | undefined {
  return secret.expiresAtSeconds === undefined ? undefined : secret.expiresAtSeconds * 1000;
}

/** Whether the secret has expired at `nowMs`. */
export function isExpired(secret: StoredSecret, nowMs: number): boolean {
  const expiry = expiresAtMs(secret);
  return expiry !== undefined && expiry <= nowMs;
}

/**
 * The refresh margin for a token that lived `lifetimeMs` (issue to expiry): `skewMs`, but at most
 * half the lifetime. An unknown or negative lifetime gets the full skew.
 */
export function effectiveSkewMs(skewMs: number, lifetimeMs: number | undefined): number {
  if (lifetimeMs === undefined || !(lifetimeMs > 0)) return skewMs;
  return Math.min(skewMs, lifetimeMs / 2);
}

/**
 * Whether an OAuth access token saved at `savedAtMs` must be refreshed at `nowMs`: it expires within
 * the (effective) skew. Entered fields and tokens without expiry never are.
 */
export function isExpiring(secret: StoredSecret, savedAtMs: number, nowMs: number, skewMs: number): boolean {
  const expiry = expiresAtMs(secret);
  if (secret.kind !== "oauth2" || expiry === undefined) return false;
  return expiry - effectiveSkewMs(skewMs, expiry - savedAtMs) <= nowMs;
}

/**
 * When to refresh proactively a token expiring at `expiryMs`: expiry − skew − jitter, jitter uniform
 * in [0, skew/2) so connections issued together spread out; never before `nowMs`.
 */
export function proactiveRefreshAtMs(expiryMs: number, nowMs: number, skewMs: number, random: () => number): number {
  const skew = effectiveSkewMs(skewMs, expiryMs - nowMs);
  return Math.max(nowMs, Math.floor(expiryMs - skew - random() * (skew / 2)));
}

/**
 * Whether a read must refresh: the token expires within the skew, unless a retry is already
 * scheduled (`next_refresh_at` in the future, set by a failed attempt) and the token still works.
 */
export function mustRefreshOnRead(connection: ConnectionRecord, current: StoredCredential, nowMs: number, skewMs: number): boolean {
  if (!isExpiring(current.secret, current.savedAtMs, nowMs, skewMs)) return false;
  const isBackingOff = connection.nextRefreshAtMs !== null && connection.nextRefreshAtMs > nowMs;
  return !(isBackingOff && !isExpired(current.secret, nowMs));
}
