/**
 * Starts consent: RequestConnection creates a pending connection and returns where the user's
 * browser goes (provider authorization for OAuth, the hosted form for keys), or runs the
 * client-credentials grant at once; ReconnectConnection does the same for an existing connection,
 * keeping its id. The browser's return is consent-callback.ts. Never logs codes, states or tokens.
 */
import { generateRandomCodeVerifier, generateRandomNonce } from "oauth4webapi";
import type { ReturnUrlPolicy } from "../config/return-url-policy.ts";
import { canTransition } from "../domain/connection-status.ts";
import { ConnectionNotUsableError, InvalidArgumentError, NotImplementedError } from "../domain/errors.ts";
import { openConnection, transition } from "../lifecycle/connection-transition.ts";
import type { Logger } from "../logging/logger.ts";
import type { AccountAttempt } from "../oauth/account-identity.ts";
import { mergeScopes } from "../oauth/authorization-url.ts";
import type { OAuthClient } from "../oauth/oauth-client.ts";
import type { ResolvedProvider } from "../oauth/resolved-provider.ts";
import type { StoredProvider } from "../providers/profile.ts";
import type { ConnectionRecord, Store } from "../store/store.ts";
import type { Vault } from "../vault/vault.ts";
import { type CallbackResult, type ConsentAudit, createConsentCallback } from "./consent-callback.ts";
import { type ConsentRequest, checkLabels, checkParams, checkProviderName, checkScopes, checkUserId } from "./consent-input.ts";
import { createConsentOutcomes } from "./consent-outcomes.ts";
import type { ConsentStates } from "./consent-states.ts";
import { OAUTH_CALLBACK_PATH } from "./oauth-callback-route.ts";
import { requireOAuthSettings, resolveForConsent } from "./provider-readiness.ts";

/** Reads a provider and its client secret (the provider directory, or a small test double). */
export interface ProviderLookup {
  getWithSecret(name: string): Promise<{ provider: StoredProvider; clientSecret: string | undefined }>;
}

/** Starts the hosted key form for a pending connection (server/capture). */
export interface KeyCaptureStarter {
  begin(input: {
    connection: ConnectionRecord;
    provider: StoredProvider;
    returnUrl: string;
  }): Promise<{ authUrl: string; expiresAtMs: number }>;
}

/** What the flow needs. */
export interface ConsentFlowDeps {
  store: Store;
  vault: Vault;
  providers: ProviderLookup;
  states: ConsentStates;
  returnUrls: ReturnUrlPolicy;
  oauth: OAuthClient;
  /** Absent until hosted key capture is wired: api_key/basic_auth then answer NotImplemented. */
  keyCapture?: KeyCaptureStarter;
  /** Nexus's public base URL without a trailing slash; the redirect_uri is `${publicUrl()}/oauth/callback`. */
  publicUrl: () => string;
  logger: Logger;
  /** Where consent outcomes of the browser callback are audited (consent.finish / consent.fail). */
  audit?: ConsentAudit;
  /** Counts account-identity attempts after consent (see consent-callback.ts). */
  accountMetrics?: (attempt: AccountAttempt) => void;
}

/** A consent that was started (or, for client credentials, completed). */
export interface ConsentStarted {
  connection: ConnectionRecord;
  /** Where the browser must go; "" when the connection is already active. */
  authUrl: string;
  /** When authUrl stops working; null when there is none. */
  authUrlExpiresAtMs: number | null;
}

/** The consent flow. */
export interface ConsentFlow {
  /** RequestConnection. InvalidArgumentError, ReturnUrlNotAllowedError, NotFoundError (provider), FailedPreconditionError, ProviderUnavailableError. */
  start(tenantId: string, input: ConsentRequest): Promise<ConsentStarted>;
  /**
   * ReconnectConnection: from active, attention_required, expired or failed back to pending with a
   * new authUrl, same connection_id. Choice: while pending the old credential is kept in storage but
   * not served (GetToken refuses pending connections); success replaces it with the next version.
   * Empty `scopes` keeps the connection's scopes.
   */
  reconnect(tenantId: string, connectionId: string, input: { returnUrl: string; scopes: readonly string[] }): Promise<ConsentStarted>;
  /** GET /oauth/callback: a redirect to the return URL, or an error page when the state is not trustworthy. */
  handleCallback(query: URLSearchParams): Promise<CallbackResult>;
}

/** Creates the consent flow. */
export function createConsentFlow(deps: ConsentFlowDeps): ConsentFlow {
  const { store, oauth, states } = deps;
  const outcomes = createConsentOutcomes(deps);

  // Checked before anything is looked up or created: a refused return_url leaves nothing behind.
  const checkReturnUrl = (returnUrl: string): string | null => (returnUrl === "" ? null : deps.returnUrls.check(returnUrl).href);
  /** Consent that involves a browser needs somewhere to send it back to. */
  const browserReturn = (returnUrl: string | null): string => {
    if (returnUrl === null) throw new InvalidArgumentError("return_url", "is required for this provider");
    return returnUrl;
  };

  /** Issues the state and builds the authorization URL for a pending connection. */
  async function beginOAuth(
    connection: ConnectionRecord,
    provider: ResolvedProvider,
    returnUrl: string,
    reuseExisting: boolean,
  ): Promise<ConsentStarted> {
    const scopes = connection.scopes;
    const codeVerifier = provider.settings.pkce ? generateRandomCodeVerifier() : undefined;
    // A nonce only where an id_token can be checked against a pinned issuer (OIDC Core §3.1.2.1).
    const nonce = provider.hasIssuer && scopes.includes("openid") ? generateRandomNonce() : undefined;
    const redirectUri = `${deps.publicUrl()}${OAUTH_CALLBACK_PATH}`;
    const issued = await states.issue(connection.id, returnUrl, {
      flow: "oauth",
      codeVerifier,
      nonce,
      redirectUri,
      scopes,
      ...(reuseExisting && { reuseExisting }),
    });
    const authUrl = await oauth.authorizationUrl(provider, { redirectUri, state: issued.state, scopes, codeVerifier, nonce });
    deps.logger.info({ connectionId: connection.id, provider: connection.providerName }, "consent started");
    return { connection, authUrl, authUrlExpiresAtMs: issued.expiresAtMs };
  }

  /**
   * The per-auth-type part of start and reconnect. `pending` creates (or moves back to pending) the
   * connection; it is called only after every check has passed, so a refused request leaves nothing.
   * `requestedScopes` undefined keeps the connection's scopes (reconnect without scopes).
   */
  async function proceed(
    stored: StoredProvider,
    clientSecret: string | undefined,
    params: Record<string, string>,
    returnUrl: string | null,
    pending: (scopes: readonly string[] | undefined) => Promise<ConnectionRecord>,
    requestedScopes: readonly string[] | undefined,
    reuseExisting = false,
  ): Promise<ConsentStarted> {
    const profile = stored.profile;
    switch (profile.authType) {
      case "oauth2": {
        const back = browserReturn(returnUrl);
        const settings = requireOAuthSettings(profile, clientSecret);
        const provider = await resolveForConsent(oauth, profile, settings, clientSecret, params, true);
        const connection = await pending(requestedScopes && mergeScopes(settings.defaultScopes, requestedScopes));
        return beginOAuth(connection, provider, back, reuseExisting);
      }
      case "oauth2_client_credentials": {
        const settings = requireOAuthSettings(profile, clientSecret);
        const provider = await resolveForConsent(oauth, profile, settings, clientSecret, params, false);
        const connection = await pending(requestedScopes && mergeScopes(settings.defaultScopes, requestedScopes));
        return { connection: await outcomes.runClientCredentials(connection, provider), authUrl: "", authUrlExpiresAtMs: null };
      }
      case "api_key":
      case "basic_auth": {
        const back = browserReturn(returnUrl);
        if (deps.keyCapture === undefined) throw new NotImplementedError("hosted key capture");
        const connection = await pending(requestedScopes);
        const begun = await deps.keyCapture.begin({ connection, provider: stored, returnUrl: back });
        return { connection, authUrl: begun.authUrl, authUrlExpiresAtMs: begun.expiresAtMs };
      }
      default: {
        const unreachable: never = profile.authType;
        return unreachable;
      }
    }
  }

  return {
    async start(tenantId, input) {
      const userId = checkUserId(input.userId);
      const providerName = checkProviderName(input.providerName);
      checkScopes(input.scopes);
      const returnUrl = checkReturnUrl(input.returnUrl);
      const { provider: stored, clientSecret } = await deps.providers.getWithSecret(providerName);
      const profile = stored.profile;
      checkScopes(input.scopes, profile.oauth?.scopeSeparator);
      const params = checkParams(input.params, profile);
      const labels = checkLabels(input.labels ?? {});
      // Everything is validated by now: a tenant an admin names for the first time is created here
      // (agent keys always act in their own, existing tenant).
      const create = async (scopes: readonly string[] | undefined) => {
        await store.ensureTenant({ id: tenantId });
        return openConnection(store, {
          tenantId,
          userId,
          providerName: profile.name,
          scopes: [...(scopes ?? [])],
          params,
          returnUrl,
          labels,
        });
      };
      return proceed(stored, clientSecret, params, returnUrl, create, input.scopes, input.reuseExisting ?? false);
    },

    async reconnect(tenantId, connectionId, input) {
      checkScopes(input.scopes);
      const returnUrl = checkReturnUrl(input.returnUrl);
      const current = await store.getConnection(tenantId, connectionId);
      if (!canTransition(current.status, "pending")) throw new ConnectionNotUsableError(current.id, current.status);
      const { provider: stored, clientSecret } = await deps.providers.getWithSecret(current.providerName);
      const profile = stored.profile;
      checkScopes(input.scopes, profile.oauth?.scopeSeparator);
      // The profile may have changed since the connection was made: its params must still fit. One
      // the operator now fixes is dropped (the operator's value is used whatever the row holds).
      const params = checkParams(withoutOperatorParams(current.params, profile.operatorParams), profile);
      const moveToPending = (scopes: readonly string[] | undefined) =>
        // Compare-and-set on the status read above: a concurrent revoke wins (ConflictError).
        transition(store, current, "pending", null, { scopes: [...(scopes ?? current.scopes)], returnUrl });
      return proceed(stored, clientSecret, params, returnUrl, moveToPending, input.scopes.length > 0 ? input.scopes : undefined);
    },

    handleCallback: createConsentCallback({ ...deps, outcomes }),
  };
}

function withoutOperatorParams(
  params: Readonly<Record<string, string>>,
  operator: Readonly<Record<string, string>> = {},
): Record<string, string> {
  return Object.fromEntries(Object.entries(params).filter(([name]) => !Object.hasOwn(operator, name)));
}
