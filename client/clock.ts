/**
 * The time source of the client: credential freshness, SigV4 signing dates and metric ages read
 * it, so tests can move time without patching `Date`. Timers (backoff sleeps) stay real.
 */

/** A source of wall-clock time in milliseconds since the Unix epoch. */
export interface Clock {
  /** Current time, Unix milliseconds. */
  now(): number;
}

/**
 * The real clock (`Date.now()`), used when no clock is passed.
 *
 * @example
 * const client = createNexusClient({ baseUrl, clock: systemClock });
 */
export const systemClock: Clock = { now: () => Date.now() };
