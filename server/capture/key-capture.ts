/**
 * Hosted credential capture for key-based providers (api_key, basic_auth): `begin` issues a
 * single-use consent state for a pending connection and returns the form's URL; `handle` serves the
 * form (GET) and its submission (POST) at /connect/capture/{state} and sends the browser back to the
 * return URL. It owns that flow end to end; it never logs, stores in clear or echoes an entered value.
 *
 * What defends against what:
 * - Guessing and replay: the state is 256 random bits, stored only hashed, valid 10 minutes, and is
 *   consumed atomically *before* anything is stored, so a second submission (replay, double click,
 *   second tab) finds it used and changes nothing. Invalid input, a provider rejection or a failed
 *   live check do not consume it, so the user can fix a typo.
 * - Key guessing through the form: a state allows 5 live checks against the provider (per process),
 *   then the connection fails with too_many_attempts.
 * - Cross-site POST: a foreign page would need the state, and even with it the POST must carry
 *   `Origin` (or, when a browser sends none, `Referer`) equal to publicUrl's origin and be an
 *   urlencoded form. The form page says `Referrer-Policy: same-origin`, not `no-referrer`: on a
 *   no-referrer page browsers send `Origin: null` with the form POST (Fetch, "append a request
 *   `Origin` header"), which would make the check impossible; same-origin still sends nothing — in
 *   particular not this state-bearing URL — to any other origin. Every other answer says no-referrer.
 * - Login-CSRF analogue (a victim's browser made to submit into a connection it did not open):
 *   needs that connection's state, and the blind cross-site POST fails the origin check. Luring a
 *   user to type their key into someone else's connection is phishing; the page names the provider
 *   and the host the user will be returned to.
 * - No double-submit cookie: it would prove what `Origin` already proves (a page of this origin sent
 *   the POST) and nothing against a non-browser client holding the state, which is the real secret.
 * - Framing and injection: CSP `frame-ancestors 'none'` + X-Frame-Options; no script at all
 *   (`default-src 'none'`), every text escaped, `base-uri 'none'`, `form-action` limited to this
 *   origin and the return URL's (browsers apply form-action to the redirect after the POST).
 */

import type { ConsentAudit } from "../consent/consent-callback.ts";
import type { ConsentStates } from "../consent/consent-states.ts";
import { isAwaitingConsent, type StatusReason } from "../domain/connection-status.ts";
import { ConflictError, ConnectionNotUsableError, InvalidArgumentError, NotFoundError } from "../domain/errors.ts";
import type { NodeRequest, NodeResponse } from "../http/endpoints.ts";
import { transition } from "../lifecycle/connection-transition.ts";
import type { Logger } from "../logging/logger.ts";
import type { AccountAttempt } from "../oauth/account-identity.ts";
import type { StoredProvider } from "../providers/profile.ts";
import type { ConnectionRecord, Store } from "../store/store.ts";
import type { Vault } from "../vault/vault.ts";
import { type FormPageView, renderFormPage, renderMessagePage } from "./capture-page.ts";
import { CAPTURE_PATH_PREFIX } from "./capture-path.ts";
import { sendBack, sendHtml } from "./capture-response.ts";
import { createCaptureStateResolver, type Dead, deadEnd, type End, type Ready, storedProviderOf, usedPage } from "./capture-state.ts";
import { ACTION_FIELD, createCredentialFormCache } from "./credential-form.ts";
import { createEnteredAccountLearner } from "./entered-account.ts";
import { FormRequestError, readFormRequest } from "./form-request.ts";
import { createLiveCheck } from "./live-check.ts";
import { createLiveCheckBudget } from "./live-check-budget.ts";
import { saveEnteredFields } from "./save-entered-fields.ts";

/** Path prefix of the hosted form; the state is the next (last) segment. */
export { CAPTURE_PATH_PREFIX };

/** What the capture needs. */
export interface KeyCaptureDeps {
  store: Store;
  vault: Vault;
  states: ConsentStates;
  /** Nexus's public base URL as browsers see it (scheme, host, optional path prefix). */
  publicUrl: () => string;
  /** Epoch milliseconds; should be the clock the consent states use. */
  now: () => number;
  /** Outbound HTTP for live checks against `testEndpoint` (default the global fetch). */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
  logger: Logger;
  /** Live-check timeout; default 10 s. */
  testTimeoutMs?: number;
  /** Counts account_lookup attempts after a key is entered (nexus_account_lookups_total). */
  accountMetrics?: (attempt: AccountAttempt) => void;
  /** Largest accepted form body; default 64 KiB. */
  maxBodyBytes?: number;
  /**
   * Live checks one state may trigger before the connection fails with "too_many_attempts";
   * default 5. Counted per process: it stops one replica being used as a key-testing oracle.
   */
  maxLiveChecks?: number;
  /** Loads a provider by name (e.g. the provider directory's `get`); default reads the store's JSON. */
  loadProvider?: (name: string) => Promise<StoredProvider>;
  /** Where submissions' outcomes are audited (consent.finish / consent.fail); ids and codes only. */
  audit?: ConsentAudit;
}

/** The hosted credential form. */
export interface KeyCapture {
  /**
   * Starts capture for a pending connection of a key-based provider.
   * @throws ConnectionNotUsableError when the connection is not pending; InvalidArgumentError when
   *   the provider is not key-based, not the connection's, or its credentialSchema is unusable.
   */
  begin(input: {
    connection: ConnectionRecord;
    provider: StoredProvider;
    returnUrl: string;
  }): Promise<{ authUrl: string; expiresAtMs: number }>;
  /** Serves GET and POST /connect/capture/{state}; resolves false for any other path. */
  handle(req: NodeRequest, res: NodeResponse): Promise<boolean>;
}

const STATE_SEGMENT = /^[A-Za-z0-9_-]{1,128}$/;

/** Creates the hosted credential capture. */
export function createKeyCapture(deps: KeyCaptureDeps): KeyCapture {
  const { store, vault, states, logger } = deps;
  const maxBytes = deps.maxBodyBytes ?? 64 * 1024;
  const liveCheck = createLiveCheck({ fetch: deps.fetch ?? fetch, timeoutMs: deps.testTimeoutMs ?? 10_000 });
  const loadProvider = deps.loadProvider ?? (async (name: string) => storedProviderOf(await store.getProvider(name)));
  const forms = createCredentialFormCache();
  const budget = createLiveCheckBudget({ max: deps.maxLiveChecks ?? 5, now: deps.now });
  const learnEnteredAccount = createEnteredAccountLearner({
    fetch: deps.fetch,
    timeoutMs: deps.testTimeoutMs ?? 10_000,
    logger,
    accountMetrics: deps.accountMetrics,
  });

  // Ids and outcomes only: never a field value, the state or the URL that carries it.
  const log = (outcome: string, connection?: ConnectionRecord, extra: Record<string, unknown> = {}) =>
    logger.info({ connectionId: connection?.id, provider: connection?.providerName, outcome, ...extra }, "key capture");
  const audit = (result: string, connection: ConnectionRecord) =>
    deps.audit?.record({
      action: result === "ok" ? "consent.finish" : "consent.fail",
      result,
      tenantId: connection.tenantId,
      connectionId: connection.id,
      details: { provider: connection.providerName, flow: "capture" },
    });
  const resolve = createCaptureStateResolver({
    states,
    store,
    now: deps.now,
    loadProvider,
    formOf: (profile) => forms.of(profile),
    onProviderUnusable: (connection, err) => log("provider_unusable", connection, { reason: err.message }),
  });

  /**
   * Ends the flow with an error code: consumes the state on POST (a GET changes nothing), redirects.
   * `isSubmission` is false only for a GET that merely shows the dead end (nothing is audited then).
   */
  async function end(res: NodeResponse, consume: string | null, ending: Omit<End, "kind">, isSubmission = true): Promise<void> {
    if (consume !== null && (await states.consume(consume)) === null) return sendDead(res, usedPage());
    log(ending.error, ending.connection);
    if (isSubmission) audit(ending.error, ending.connection);
    sendBack(res, ending.returnUrl, { status: "error", error: ending.error, connectionId: ending.connection.id });
  }

  function renderForm(res: NodeResponse, status: number, ready: Ready, extra: Partial<FormPageView> = {}): void {
    const returnTo = ready.returnUrl !== null && URL.canParse(ready.returnUrl) ? new URL(ready.returnUrl) : null;
    const html = renderFormPage({
      providerDisplayName: ready.profile.displayName || ready.profile.name,
      returnHost: returnTo?.host ?? null,
      fields: ready.form.fields,
      values: {},
      fieldErrors: {},
      formErrors: [],
      expiresInMinutes: Math.ceil((ready.expiresAtMs - deps.now()) / 60_000),
      ...extra,
    });
    const formTargets = returnTo === null ? ["'self'"] : ["'self'", returnTo.origin];
    sendHtml(res, status, html, { formTargets, referrerPolicy: "same-origin" });
  }

  async function show(res: NodeResponse, state: string): Promise<void> {
    const resolved = await resolve(state);
    if (resolved.kind === "dead") return sendDead(res, resolved);
    if (resolved.kind === "end") return end(res, null, resolved, false);
    renderForm(res, 200, resolved);
  }

  async function submit(req: NodeRequest, res: NodeResponse, state: string): Promise<void> {
    let form: URLSearchParams;
    try {
      form = await readFormRequest(req, { expectedOrigin: new URL(deps.publicUrl()).origin, maxBytes });
    } catch (err) {
      if (!(err instanceof FormRequestError)) throw err;
      log(`request_refused_${err.status}`);
      return sendHtml(res, err.status, renderMessagePage({ title: "Request refused", message: err.message }));
    }
    const resolved = await resolve(state);
    if (resolved.kind === "dead") return sendDead(res, resolved);
    if (resolved.kind === "end") return end(res, state, resolved);
    if (form.get(ACTION_FIELD) === "cancel") return fail(res, state, resolved, "access_denied");
    const { connection, profile, returnUrl } = resolved;

    // Non-secret values go back into the form after a failure; secret ones are typed again.
    const values: Record<string, string> = {};
    for (const field of resolved.form.fields) {
      const value = form.get(field.name);
      if (!field.isSecret && value !== null) values[field.name] = value;
    }
    const reading = resolved.form.read(form);
    if (!reading.ok) {
      log("invalid_input", connection, { fields: Object.keys(reading.fieldErrors) });
      const { fieldErrors, formErrors } = reading;
      return renderForm(res, 400, resolved, { values, fieldErrors, formErrors });
    }
    if (!budget.take(state, resolved.expiresAtMs)) return fail(res, state, resolved, "too_many_attempts");
    const check = await liveCheck({ profile, fields: reading.fields, params: connection.params });
    if (check.outcome === "rejected") {
      log("rejected_by_provider", connection, { httpStatus: check.httpStatus });
      const name = profile.displayName || profile.name;
      return renderForm(res, 400, resolved, {
        values,
        formErrors: [`${name} rejected these credentials. Check them and try again.`],
      });
    }
    if (check.outcome === "unverified") {
      log("unverified", connection, { reason: check.reason });
      return renderForm(res, 502, resolved, {
        values,
        formErrors: ["The credentials could not be verified with the provider right now. Please try again."],
      });
    }

    const account = await learnEnteredAccount(connection, profile, reading.fields);

    // Single use: consumed before anything is stored, so a replay or a second tab stores nothing.
    if ((await states.consume(state)) === null) return sendDead(res, usedPage());
    budget.forget(state);
    let outcome;
    try {
      outcome = await saveEnteredFields({ store, vault }, connection.id, reading.fields, account);
    } catch (err) {
      // The state is used up: never leave the user on an error page with no way back.
      logger.error({ err, connectionId: connection.id, provider: connection.providerName }, "key capture: save failed");
      return end(res, null, { connection, returnUrl, error: "server_error" });
    }
    if (outcome !== "stored") return end(res, null, { connection, returnUrl, error: outcome });
    log("stored", connection, { liveCheck: check.outcome });
    audit("ok", connection);
    sendBack(res, returnUrl, { status: "success", connectionId: connection.id });
  }

  /** Cancel (access_denied) or too many attempts: uses the state, fails the connection, goes back. */
  async function fail(res: NodeResponse, state: string, ready: Ready, reason: StatusReason): Promise<void> {
    if ((await states.consume(state)) === null) return sendDead(res, usedPage());
    budget.forget(state);
    const { connection } = ready;
    let error: string = reason;
    try {
      await transition(store, connection, "failed", reason);
    } catch (err) {
      if (!(err instanceof ConflictError || err instanceof NotFoundError)) throw err;
      error = "connection_not_pending";
    }
    return end(res, null, { connection, returnUrl: ready.returnUrl, error });
  }

  function sendDead(res: NodeResponse, page: Dead): void {
    log(page.outcome);
    sendHtml(res, page.status, renderMessagePage(page.view));
  }

  return {
    async begin({ connection, provider, returnUrl }) {
      if (!isAwaitingConsent(connection.status)) throw new ConnectionNotUsableError(connection.id, connection.status);
      const { profile } = provider;
      if (profile.authType !== "api_key" && profile.authType !== "basic_auth") {
        throw new InvalidArgumentError("provider_name", `provider "${profile.name}" does not take entered credentials`);
      }
      if (profile.name !== connection.providerName) {
        throw new InvalidArgumentError("provider_name", "the provider is not the connection's provider");
      }
      forms.of(profile); // an unusable schema fails here, not in the user's browser
      const issued = await states.issue(connection.id, returnUrl, { flow: "capture" });
      const base = deps.publicUrl().replace(/\/+$/, "");
      return { authUrl: `${base}${CAPTURE_PATH_PREFIX}${issued.state}`, expiresAtMs: issued.expiresAtMs };
    },

    async handle(req, res) {
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      if (!path.startsWith(CAPTURE_PATH_PREFIX)) return false;
      const state = path.slice(CAPTURE_PATH_PREFIX.length);
      if (state === "" || state.includes("/")) return false;
      try {
        if (!STATE_SEGMENT.test(state)) {
          sendDead(res, deadEnd(400, "This link is not valid", "state_malformed"));
        } else if (req.method === "GET") {
          await show(res, state);
        } else if (req.method === "POST") {
          await submit(req, res, state);
        } else {
          res.setHeader("allow", "GET, POST");
          sendHtml(res, 405, renderMessagePage({ title: "Method not allowed", message: "Use the form." }));
        }
      } catch (err) {
        logger.error({ err }, "key capture failed");
        if (res.headersSent) res.end();
        else sendHtml(res, 500, renderMessagePage({ title: "Something went wrong", message: "Please try again later." }));
      }
      return true;
    },
  };
}
