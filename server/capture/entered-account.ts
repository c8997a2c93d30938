/**
 * The account a key-based connection belongs to, learned after the user entered a key: runs the
 * profile's account_lookup with the entered fields, counts each attempt and logs (ids and reasons
 * only) the ones that failed. It never fails the capture: an account not learned is undefined.
 */
import type { ConnectionAccount } from "../domain/connection-account.ts";
import type { Logger } from "../logging/logger.ts";
import { type AccountAttempt, learnAccountFromFields } from "../oauth/account-identity.ts";
import type { ProviderProfile } from "../providers/profile.ts";
import type { ConnectionRecord } from "../store/store.ts";

/** What `createEnteredAccountLearner` needs. */
export interface EnteredAccountDeps {
  /** Outbound HTTP for the lookup; default the global fetch (read at each lookup). */
  fetch?: ((url: string, init: RequestInit) => Promise<Response>) | undefined;
  /** Lookup timeout. */
  timeoutMs: number;
  logger: Logger;
  /** Counts account_lookup attempts (nexus_account_lookups_total). */
  accountMetrics?: ((attempt: AccountAttempt) => void) | undefined;
}

/** Learns the account from entered fields: the profile's account_lookup; undefined when none or not learned. */
export type EnteredAccountLearner = (
  connection: ConnectionRecord,
  profile: ProviderProfile,
  fields: Record<string, string>,
) => Promise<ConnectionAccount | undefined>;

/** Creates the learner key capture calls after a successful live check. */
export function createEnteredAccountLearner(deps: EnteredAccountDeps): EnteredAccountLearner {
  const { logger } = deps;
  return async (connection, profile, fields) => {
    if (profile.accountLookup === undefined) return undefined;
    const learned = await learnAccountFromFields({
      profile,
      fields,
      params: connection.params,
      fetch: deps.fetch ?? fetch,
      timeoutMs: deps.timeoutMs,
    });
    for (const attempt of learned.attempts) {
      deps.accountMetrics?.(attempt);
      if (attempt.outcome === "failed") {
        logger.warn(
          { connectionId: connection.id, provider: connection.providerName, source: attempt.source, reason: attempt.reason },
          "account identity not learned from this source",
        );
      }
    }
    return learned.account ?? undefined;
  };
}
