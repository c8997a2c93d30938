/**
 * The OAuth callback (RFC 6749 §4.1.2): consumes the single-use state, checks the authorization
 * response (state, RFC 9207 issuer, `error`), exchanges the code, learns the provider account and
 * the profile's connection extras (never failing the consent for them), and ends the consent — on
 * the existing connection of the same account when the request asked to reuse it. Without a
 * trustworthy state nothing is touched and an error page is shown (no redirect: the return URL is
 * only known through the state). Otherwise the browser always goes back to the return URL, with
 * `status=success` or `status=error&error=<code>`. Codes, states and tokens are never logged.
 */
import { AuthorizationResponseError } from "oauth4webapi";
import { isAwaitingConsent } from "../domain/connection-status.ts";
import { ConflictError, NotFoundError } from "../domain/errors.ts";
import type { Logger } from "../logging/logger.ts";
import { type AccountAttempt, type LearnAccountInput, type LearnedAccount, learnAccount } from "../oauth/account-identity.ts";
import { captureConnectionExtras } from "../oauth/connection-extras.ts";
import { IdTokenValidationError } from "../oauth/id-token-check.ts";
import type { OAuthClient } from "../oauth/oauth-client.ts";
import type { ResolvedProvider } from "../oauth/resolved-provider.ts";
import { classifyTokenFailure } from "../oauth/token-failure.ts";
import type { ProviderProfile, StoredProvider } from "../providers/profile.ts";
import type { ConnectionRecord, Store } from "../store/store.ts";
import { type ConsentIdentity, type ConsentOutcomes, failureFacts, safeErrorCode } from "./consent-outcomes.ts";
import type { ConsentSecrets, ConsentStates } from "./consent-states.ts";
import { buildReturnRedirect } from "./return-redirect.ts";

/** A page shown instead of a redirect. Its text is fixed: it never repeats request input. */
export interface ConsentPage {
  status: number;
  title: string;
  message: string;
}

/** What the callback answers: a redirect to the return URL, or a page. */
export type CallbackResult = { redirect: string } | { page: ConsentPage };

/** The page for a missing, unknown, used or expired state (deliberately indistinguishable). */
export const INVALID_STATE_PAGE: ConsentPage = {
  status: 400,
  title: "This sign-in link is not valid",
  message: "It was already used, has expired, or was not issued by this server. Go back to the application and start again.",
};

/** Records consent outcomes in the audit log (server/audit/audit-writer.ts fits). Ids and codes only. */
export interface ConsentAudit {
  record(event: { action: string; result: string; tenantId?: string; connectionId?: string; details?: Record<string, string> }): void;
}

/** What the callback needs. */
export interface ConsentCallbackDeps {
  store: Store;
  providers: { getWithSecret(name: string): Promise<{ provider: StoredProvider; clientSecret: string | undefined }> };
  states: ConsentStates;
  oauth: OAuthClient;
  outcomes: ConsentOutcomes;
  logger: Logger;
  audit?: ConsentAudit;
  /** Counts account-identity attempts by source and outcome (nexus_account_lookups_total). */
  accountMetrics?: (attempt: AccountAttempt) => void;
}

/** Creates the callback handler. */
export function createConsentCallback(deps: ConsentCallbackDeps): (query: URLSearchParams) => Promise<CallbackResult> {
  const { logger } = deps;

  return async (query) => {
    const state = query.get("state") ?? "";
    const opened = state === "" ? null : await deps.states.consume(state);
    const returnUrl = opened?.record.returnUrl;
    // A capture-form state is not an OAuth state; both are useless to whoever presents them here.
    if (!opened || opened.secrets?.flow !== "oauth" || !returnUrl) {
      logger.warn({ outcome: "invalid_state" }, "oauth callback without a valid state");
      return { page: INVALID_STATE_PAGE };
    }
    const secrets = opened.secrets;
    const connection = await deps.store.findConnectionById(opened.record.connectionId);
    if (connection === null) {
      logger.warn({ connectionId: opened.record.connectionId, outcome: "error" }, "oauth callback for a deleted connection");
      return { redirect: buildReturnRedirect(returnUrl, { status: "error", error: "connection_not_found" }) };
    }
    const log = { connectionId: connection.id, provider: connection.providerName };
    const audit = (result: string) =>
      deps.audit?.record({
        // Ending on an existing connection (reuse_existing) is a finished consent, not a failed one.
        action: result === "ok" || result === "reused_existing" ? "consent.finish" : "consent.fail",
        result,
        tenantId: connection.tenantId,
        connectionId: connection.id,
        details: { provider: connection.providerName, flow: "oauth" },
      });
    const fail = async (error: string, reason = error, facts?: object): Promise<CallbackResult> => {
      await deps.outcomes.fail(connection, reason);
      audit(error);
      logger.warn({ ...log, outcome: "error", error, ...facts }, "consent failed");
      return { redirect: buildReturnRedirect(returnUrl, { status: "error", error, connectionId: connection.id }) };
    };
    if (!isAwaitingConsent(connection.status)) {
      // Revoked (or otherwise moved on) while the user was at the provider: don't resurrect it.
      audit("connection_not_pending");
      logger.warn({ ...log, outcome: "error", status: connection.status }, "oauth callback for a connection that is not pending");
      return {
        redirect: buildReturnRedirect(returnUrl, { status: "error", error: "connection_not_pending", connectionId: connection.id }),
      };
    }

    const resolved = await resolve(deps, connection);
    if (typeof resolved === "string") return fail(resolved);
    const { provider, profile } = resolved;

    let callbackParams: URLSearchParams;
    try {
      callbackParams = deps.oauth.validateCallback(provider, query, state);
    } catch (err) {
      // RFC 6749 §4.1.2.1: the provider's own error code (access_denied, …) goes back to the app.
      if (err instanceof AuthorizationResponseError) return fail(safeErrorCode(err.error));
      // A wrong `iss` (RFC 9207 mix-up defence) or a malformed response.
      return fail("invalid_response");
    }

    let exchanged;
    try {
      exchanged = await deps.oauth.exchangeCode(provider, exchangeInput(callbackParams, secrets, connection));
    } catch (err) {
      if (err instanceof IdTokenValidationError) return fail("invalid_id_token");
      const failure = classifyTokenFailure(err);
      const reason = failure.error !== undefined ? safeErrorCode(failure.error) : "exchange_failed";
      return fail("exchange_failed", reason, { failure: failureFacts(failure) });
    }

    const { tokens } = exchanged;
    const identity: ConsentIdentity = {
      ...(await learnIdentity(deps, { provider, profile, tokens, params: connection.params }, log)),
      // Only a profile that names extras replaces the metadata (re-consent of one that names none keeps it).
      ...(profile.connectionExtras !== undefined && {
        metadata: captureConnectionExtras(profile.connectionExtras, query, exchanged.response),
      }),
    };

    try {
      if (secrets.reuseExisting === true && identity.account !== undefined) {
        const existing = await findSameAccount(deps.store, connection, identity.account.id);
        if (existing !== null) {
          await deps.outcomes.reuse(connection, existing, identity);
          audit("reused_existing");
          logger.info({ ...log, outcome: "success", reusedConnectionId: existing.id }, "consent ended on an existing connection");
          return { redirect: buildReturnRedirect(returnUrl, { status: "success", connectionId: existing.id }) };
        }
      }
      await deps.outcomes.complete(connection, tokens, provider, identity);
    } catch (err) {
      if (!(err instanceof ConflictError || err instanceof NotFoundError)) throw err;
      audit("connection_changed");
      logger.warn({ ...log, outcome: "error" }, "consent lost a race: the connection changed meanwhile");
      return { redirect: buildReturnRedirect(returnUrl, { status: "error", error: "connection_changed", connectionId: connection.id }) };
    }
    audit("ok");
    logger.info({ ...log, outcome: "success" }, "consent completed");
    return { redirect: buildReturnRedirect(returnUrl, { status: "success", connectionId: connection.id }) };
  };
}

/**
 * Learns the account (id_token, userinfo, account_lookup: oauth/account-identity.ts). Never fails
 * the consent: every attempt is logged with its reason code and counted.
 */
async function learnIdentity(deps: ConsentCallbackDeps, input: LearnAccountInput, log: object): Promise<ConsentIdentity> {
  let learned: LearnedAccount;
  try {
    learned = await learnAccount(input);
  } catch (err) {
    deps.logger.warn({ ...log, error: err instanceof Error ? err.name : "error" }, "account identity lookup threw");
    return {};
  }
  for (const attempt of learned.attempts) {
    deps.accountMetrics?.(attempt);
    if (attempt.outcome === "failed") {
      deps.logger.warn({ ...log, source: attempt.source, reason: attempt.reason }, "account identity not learned from this source");
    }
  }
  if (learned.account === null) {
    deps.logger.info({ ...log, outcome: "unknown" }, "provider account not known: no source said");
    return {};
  }
  deps.logger.debug({ ...log, source: learned.source }, "provider account learned");
  return { account: learned.account };
}

/** The tenant's other active connection of the same user, provider and account, or null. */
async function findSameAccount(store: Store, connection: ConnectionRecord, accountId: string): Promise<ConnectionRecord | null> {
  const page = await store.listConnections(
    connection.tenantId,
    { userId: connection.userId, providerName: connection.providerName, status: "active", accountId },
    { pageSize: 2 },
  );
  return page.items.find((c) => c.id !== connection.id) ?? null;
}

/** Loads and resolves the connection's provider; a string is the error code when that fails. */
async function resolve(
  deps: ConsentCallbackDeps,
  connection: ConnectionRecord,
): Promise<{ provider: ResolvedProvider; profile: ProviderProfile } | string> {
  let loaded;
  try {
    loaded = await deps.providers.getWithSecret(connection.providerName);
  } catch (err) {
    if (err instanceof NotFoundError) return "provider_not_found";
    throw err;
  }
  const settings = loaded.provider.profile.oauth;
  if (loaded.provider.profile.authType !== "oauth2" || settings === undefined) return "provider_misconfigured";
  try {
    const provider = await deps.oauth.resolve(loaded.provider.profile, loaded.clientSecret, connection.params);
    return { provider, profile: loaded.provider.profile };
  } catch (err) {
    return classifyTokenFailure(err).blame === "transient" ? "provider_unavailable" : "provider_misconfigured";
  }
}

function exchangeInput(callbackParams: URLSearchParams, secrets: ConsentSecrets, connection: ConnectionRecord) {
  return {
    callbackParams,
    // Issued with the state; a state without it could not have come from this flow's start.
    redirectUri: secrets.redirectUri ?? "",
    codeVerifier: secrets.codeVerifier,
    nonce: secrets.nonce,
    scopes: secrets.scopes ?? connection.scopes,
  };
}
