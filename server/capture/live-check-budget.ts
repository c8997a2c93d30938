/**
 * How many live checks one capture state may trigger, so a state holder cannot use Nexus as an
 * oracle for guessing keys against a provider. Counted in memory, per process, by state hash; it
 * never sees a key or a raw state after hashing.
 */
import { hashState } from "../consent/consent-states.ts";

/** A per-state allowance of live checks. */
export interface LiveCheckBudget {
  /** Counts one check for `state`; false once its allowance is used up. */
  take(state: string, stateExpiresAtMs: number): boolean;
  /** Drops the count of a state that has been used. */
  forget(state: string): void;
}

const PRUNE_ABOVE = 1000;

/** Creates a budget of `max` checks per state; expired entries are pruned as the map grows. */
export function createLiveCheckBudget(deps: { max: number; now: () => number }): LiveCheckBudget {
  const counts = new Map<string, { count: number; expiresAtMs: number }>();
  return {
    take(state, stateExpiresAtMs) {
      const nowMs = deps.now();
      if (counts.size > PRUNE_ABOVE) {
        for (const [key, entry] of counts) if (entry.expiresAtMs <= nowMs) counts.delete(key);
      }
      const key = hashState(state);
      const entry = counts.get(key) ?? { count: 0, expiresAtMs: stateExpiresAtMs };
      entry.count += 1;
      counts.set(key, entry);
      return entry.count <= deps.max;
    },
    forget(state) {
      counts.delete(hashState(state));
    },
  };
}
