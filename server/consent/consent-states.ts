/**
 * Consent states: the random, single-use, expiring `state` that ties a browser's return (OAuth
 * callback or key-capture form) to one pending connection. Only its SHA-256 is stored; what the
 * return step needs back (PKCE verifier, OIDC nonce) is sealed with the hash as AAD.
 */
import { createHash, randomBytes } from "node:crypto";
import type { ConsentStateRecord, Store } from "../store/store.ts";
import type { Vault } from "../vault/vault.ts";

/** Secrets a consent step keeps until the browser returns. Never logged. */
export interface ConsentSecrets {
  /** "oauth" for an authorization-code flow, "capture" for the hosted key form. */
  flow: "oauth" | "capture";
  /** RFC 7636 code_verifier. */
  codeVerifier?: string;
  /** OIDC Core §3.1.2.1 nonce. */
  nonce?: string;
  /** The redirect_uri sent in the authorization request (it must be repeated on exchange). */
  redirectUri?: string;
  /** Scopes requested, to store on the connection after success. */
  scopes?: string[];
  /** RequestConnection.reuse_existing: end on an existing active connection of the same account. */
  reuseExisting?: boolean;
}

/** An issued state. */
export interface IssuedState {
  /** The raw state: goes into the URL, never into storage or logs. */
  state: string;
  expiresAtMs: number;
}

/** A consumed (or peeked) state with its opened secrets. */
export interface OpenedState {
  record: ConsentStateRecord;
  secrets: ConsentSecrets | null;
}

/** Issues and consumes consent states. */
export interface ConsentStates {
  issue(connectionId: string, returnUrl: string | null, secrets: ConsentSecrets): Promise<IssuedState>;
  /** Uses the state once; null when unknown, used, expired or malformed (indistinguishable on purpose). */
  consume(state: string): Promise<OpenedState | null>;
  /** Reads the state without using it (e.g. to render a form); null when unknown or malformed. */
  peek(state: string): Promise<OpenedState | null>;
}

/** Default lifetime of a consent state: 10 minutes. */
export const CONSENT_STATE_TTL_MS = 10 * 60 * 1000;

const STATE_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** SHA-256 hex of a raw state: the only form that is stored. */
export function hashState(state: string): string {
  return createHash("sha256").update(state).digest("hex");
}

/** The AAD binding a consent state's sealed secrets to that state. */
export function consentSecretsAad(stateHash: string): string {
  return `nexus:consent:${stateHash}`;
}

/** Creates the consent-state service. `now` returns epoch milliseconds. */
export function createConsentStates(deps: { store: Store; vault: Vault; now: () => number; ttlMs?: number }): ConsentStates {
  const ttlMs = deps.ttlMs ?? CONSENT_STATE_TTL_MS;
  const aad = consentSecretsAad;
  const open = (record: ConsentStateRecord): OpenedState => ({
    record,
    secrets: record.secrets ? (JSON.parse(deps.vault.open(record.secrets, aad(record.stateHash)).toString()) as ConsentSecrets) : null,
  });
  return {
    async issue(connectionId, returnUrl, secrets) {
      // 256 bits from the CSPRNG, base64url: unguessable and URL-safe (RFC 6749 §10.10).
      const state = randomBytes(32).toString("base64url");
      const stateHash = hashState(state);
      const expiresAtMs = deps.now() + ttlMs;
      await deps.store.createConsentState({
        stateHash,
        connectionId,
        returnUrl,
        expiresAtMs,
        secrets: deps.vault.seal(JSON.stringify(secrets), aad(stateHash)),
      });
      return { state, expiresAtMs };
    },
    async consume(state) {
      if (!STATE_PATTERN.test(state)) return null;
      const record = await deps.store.consumeConsentState(hashState(state), deps.now());
      return record ? open(record) : null;
    },
    async peek(state) {
      if (!STATE_PATTERN.test(state)) return null;
      const record = await deps.store.findConsentState(hashState(state));
      return record ? open(record) : null;
    },
  };
}
