/**
 * How a consent ends, in the store: tokens saved and the connection activated (activate-with-credential.ts,
 * shared with key capture), or pending → failed with a reason. Every
 * status change is a compare-and-set from pending (domain/connection-status.ts allows both), so a
 * connection revoked mid-consent stays revoked. Also runs the client-credentials grant.
 */

import type { ConnectionAccount } from "../domain/connection-account.ts";
import { statusReasonOf } from "../domain/connection-status.ts";
import { ConflictError, FailedPreconditionError, NotFoundError, ProviderUnavailableError } from "../domain/errors.ts";
import type { OAuthTokenSet } from "../domain/stored-secret.ts";
import { transition } from "../lifecycle/connection-transition.ts";
import type { Logger } from "../logging/logger.ts";
import type { OAuthClient } from "../oauth/oauth-client.ts";
import type { ResolvedProvider } from "../oauth/resolved-provider.ts";
import { classifyTokenFailure, type TokenFailure } from "../oauth/token-failure.ts";
import type { ConnectionRecord, Store } from "../store/store.ts";
import type { Vault } from "../vault/vault.ts";
import { activateWithCredential } from "./activate-with-credential.ts";

/** Ends consents. */
export interface ConsentOutcomes {
  /**
   * Stores `tokens` as the next credential version and activates the pending connection.
   * @throws ConflictError when the connection changed meanwhile (then nothing of ours is left stored).
   */
  complete(
    connection: ConnectionRecord,
    tokens: OAuthTokenSet,
    provider: ResolvedProvider,
    identity?: ConsentIdentity,
  ): Promise<ConnectionRecord>;
  /**
   * Ends a pending connection on `existing` (reuse_existing): pending → failed "reused_existing",
   * recording the account and `existing.id`. The new tokens are not stored.
   * @throws ConflictError / NotFoundError when the connection moved on meanwhile.
   */
  reuse(connection: ConnectionRecord, existing: ConnectionRecord, identity: ConsentIdentity): Promise<ConnectionRecord>;
  /**
   * Moves a pending connection to failed with `reason` (recorded as a StatusReason: a code outside the
   * set becomes provider_error); one that has moved on is left alone.
   */
  fail(connection: ConnectionRecord, reason: string): Promise<void>;
  /** Client-credentials grant for a pending connection → active; on failure → failed and a domain error. */
  runClientCredentials(connection: ConnectionRecord, provider: ResolvedProvider): Promise<ConnectionRecord>;
}

/** Who the consent connected and the provider values kept: absent fields keep the connection's. */
export interface ConsentIdentity {
  account?: ConnectionAccount;
  metadata?: Record<string, string>;
}

/** The safe-to-log facts of a token failure (no description: providers put anything there). */
export function failureFacts(failure: TokenFailure): Record<string, string | number | boolean> {
  const facts: Record<string, string | number | boolean> = { kind: failure.kind, blame: failure.blame, retryable: failure.retryable };
  if (failure.error !== undefined) facts.error = safeErrorCode(failure.error);
  if (failure.status !== undefined) facts.status = failure.status;
  return facts;
}

/** An RFC 6749 error code as we repeat it (URL, status_reason, logs): ^[a-z_]{1,64}$, else "provider_error". */
export function safeErrorCode(code: string): string {
  return /^[a-z_]{1,64}$/.test(code) ? code : "provider_error";
}

/** Creates the outcome writer. */
export function createConsentOutcomes(deps: { store: Store; vault: Vault; oauth: OAuthClient; logger: Logger }): ConsentOutcomes {
  const { store, vault } = deps;

  const outcomes: ConsentOutcomes = {
    async complete(connection, tokens, provider, identity = {}) {
      const result = await activateWithCredential({ store, vault }, connection, tokens, {
        expiresAtSeconds: tokens.expiresAtSeconds ?? null,
        scopes: grantedScopes(tokens.scope, provider.settings.scopeSeparator, connection.scopes),
        ...identity,
      });
      if (result.kind === "moved_on") throw result.error;
      return result.connection;
    },

    reuse(connection, existing, identity) {
      return transition(store, connection, "failed", "reused_existing", {
        ...identity,
        reusedConnectionId: existing.id,
      });
    },

    async fail(connection, reason) {
      try {
        await transition(store, connection, "failed", statusReasonOf(reason));
      } catch (err) {
        if (!(err instanceof ConflictError || err instanceof NotFoundError)) throw err;
        deps.logger.debug({ connectionId: connection.id }, "consent failure not recorded: the connection moved on");
      }
    },

    async runClientCredentials(connection, provider) {
      let tokens: OAuthTokenSet;
      try {
        tokens = await deps.oauth.clientCredentials(provider, connection.scopes);
      } catch (cause) {
        const failure = classifyTokenFailure(cause);
        const reason = failure.error !== undefined ? safeErrorCode(failure.error) : "token_request_failed";
        await outcomes.fail(connection, reason);
        deps.logger.warn(
          { connectionId: connection.id, provider: connection.providerName, outcome: "error", failure: failureFacts(failure) },
          "client credentials grant failed",
        );
        if (failure.blame === "transient") throw new ProviderUnavailableError(connection.providerName, { cause });
        throw new FailedPreconditionError(
          "provider_misconfigured",
          connection.providerName,
          `the token endpoint refused the client credentials grant (${reason})`,
          { cause },
        );
      }
      const active = await outcomes.complete(connection, tokens, provider);
      deps.logger.info(
        { connectionId: connection.id, provider: connection.providerName, outcome: "success" },
        "client credentials connection active",
      );
      return active;
    },
  };
  return outcomes;
}

/**
 * The scopes to record: what the provider says it granted (RFC 6749 §5.1: `scope` is present when
 * it differs from the request), else what was requested. Split on spaces and on the provider's own
 * separator (GitHub answers "repo,gist").
 */
function grantedScopes(scope: string | undefined, separator: string, requested: readonly string[]): string[] {
  if (scope === undefined) return [...requested];
  const parts = scope.split(/\s+/).flatMap((s) => (separator.trim() !== "" ? s.split(separator) : [s]));
  return [...new Set(parts.filter((s) => s !== ""))];
}
