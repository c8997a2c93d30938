/**
 * What a capture link's state leads to, read without changing anything: the form (a pending
 * connection of a usable key-based provider), an end of the flow with an error code for the return
 * URL (the connection moved on, or its provider cannot be used), or a dead end (unknown, used or
 * expired state; deleted connection) that gets a page and no redirect, since nothing trustworthy
 * says where to send the browser. Consuming the state is the caller's business.
 */
import type { ConsentStates } from "../consent/consent-states.ts";
import { isAwaitingConsent } from "../domain/connection-status.ts";
import { InvalidArgumentError, NotFoundError } from "../domain/errors.ts";
import type { ProviderProfile, StoredProvider } from "../providers/profile.ts";
import type { ConnectionRecord, ProviderRecord, Store } from "../store/store.ts";
import type { MessagePageView } from "./capture-page.ts";
import type { CredentialForm } from "./credential-form.ts";

/** A state that carries the flow on, with everything it points to. */
export interface Ready {
  kind: "ready";
  connection: ConnectionRecord;
  profile: ProviderProfile;
  form: CredentialForm;
  returnUrl: string | null;
  expiresAtMs: number;
}
/** The flow ends here: back to the return URL with an error code. */
export interface End {
  kind: "end";
  connection: ConnectionRecord;
  returnUrl: string | null;
  error: string;
}
/** No trustworthy state: a page, no redirect. */
export interface Dead {
  kind: "dead";
  status: number;
  view: MessagePageView;
  outcome: string;
}

/** What resolving needs. */
export interface CaptureStateDeps {
  states: Pick<ConsentStates, "peek">;
  store: Pick<Store, "findConnectionById">;
  now: () => number;
  loadProvider: (name: string) => Promise<StoredProvider>;
  /** The form of a profile; throws InvalidArgumentError for an unusable credentialSchema. */
  formOf: (profile: ProviderProfile) => CredentialForm;
  /** Logs a provider that cannot be used (ids and the error message only). */
  onProviderUnusable: (connection: ConnectionRecord, err: Error) => void;
}

const START_AGAIN = "Start again from the app that sent you here.";

/** Creates the resolver of capture states. */
export function createCaptureStateResolver(deps: CaptureStateDeps): (state: string) => Promise<Ready | End | Dead> {
  return async (state) => {
    const opened = await deps.states.peek(state);
    if (opened === null || opened.secrets?.flow !== "capture") {
      return deadEnd(400, "This link is not valid", "state_unknown");
    }
    const { record } = opened;
    if (record.usedAtMs !== null) return usedPage();
    if (deps.now() >= record.expiresAtMs) return deadEnd(410, "This link has expired", "state_expired");
    const connection = await deps.store.findConnectionById(record.connectionId);
    if (connection === null) return deadEnd(410, "This connection no longer exists", "connection_gone");
    const returnUrl = record.returnUrl ?? connection.returnUrl;
    if (!isAwaitingConsent(connection.status)) return { kind: "end", connection, returnUrl, error: "connection_not_pending" };
    try {
      const { profile } = await deps.loadProvider(connection.providerName);
      return { kind: "ready", connection, profile, form: deps.formOf(profile), returnUrl, expiresAtMs: record.expiresAtMs };
    } catch (err) {
      if (!(err instanceof NotFoundError || err instanceof InvalidArgumentError)) throw err;
      deps.onProviderUnusable(connection, err);
      return { kind: "end", connection, returnUrl, error: "server_error" };
    }
  };
}

/** A dead end: `status`, a page titled `title` that tells the user to start again, logged as `outcome`. */
export function deadEnd(status: number, title: string, outcome: string): Dead {
  return { kind: "dead", status, view: { title, message: START_AGAIN }, outcome };
}

/** The dead end of a state already used (a replay, a double click, a second tab). */
export function usedPage(): Dead {
  return deadEnd(410, "This link has already been used", "state_used");
}

/** The profile JSON the store keeps, read back as the provider directory wrote it. */
export function storedProviderOf(record: ProviderRecord): StoredProvider {
  return {
    profile: record.profile as unknown as ProviderProfile,
    hasClientSecret: record.clientSecret !== null,
    createdAtMs: record.createdAtMs,
    updatedAtMs: record.updatedAtMs,
  };
}
