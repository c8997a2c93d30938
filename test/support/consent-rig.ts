/**
 * The consent tests' setup: a Nexus server (plus one whose clock the test moves), a real OpenID
 * Provider, a second issuer sharing its storage and key (to stage a mix-up), and an impostor that
 * claims the first issuer's name but signs with another key. Every secret value a test sees
 * (state, verifier, nonce, code, tokens, client secret) is collected for the final log scan.
 */
import assert from "node:assert/strict";
import { createConsentStates } from "../../server/consent/consent-states.ts";
import { credentialAad, decodeStoredSecret, type OAuthTokenSet } from "../../server/domain/stored-secret.ts";
import { type ConsentDriveOptions, type ConsentDriveResult, driveConsent } from "./consent-driver.ts";
import { type RequestConnectionAnswer, registerOidcProvider, requestConnection } from "./consent-fixtures.ts";
import { generateSigningKey, type OidcStorage, startOidcProvider, type TestOidcProvider } from "./oidc-provider.ts";
import { startServer, type TestServer } from "./start-server.ts";

/** Where consents return to (never fetched: the drive stops there). */
export const RETURN_URL = "http://localhost:3000/done?tab=1";
/** RETURN_URL without its query. */
export const RETURN_PREFIX = "http://localhost:3000/done";

/** The running setup. */
export interface ConsentRig {
  server: TestServer;
  /** A server whose clock is `clock.ms`. */
  clockServer: TestServer;
  clock: { ms: number };
  idp: TestOidcProvider;
  otherIdp: TestOidcProvider;
  impostor: TestOidcProvider;
  /** Every secret value seen so far. */
  secrets: Set<string>;
  /** request-connection on `target` (default `server`), asserting 200; remembers state, verifier and nonce. */
  start(provider: string, extra?: Record<string, unknown>, target?: TestServer): Promise<RequestConnectionAnswer>;
  /** Remembers the consent secrets behind an authUrl. */
  remember(target: TestServer, authUrl: string): Promise<void>;
  /** Drives consent until the return URL; remembers the codes seen. */
  drive(authUrl: string, options?: Partial<ConsentDriveOptions>): Promise<ConsentDriveResult>;
  /** Opens a connection's stored credential (and remembers its tokens). */
  openCredential(target: TestServer, connectionId: string): Promise<OAuthTokenSet>;
  /** Asserts that no collected secret appears in either server's logs. */
  assertNoSecretsLogged(): void;
  close(): Promise<void>;
}

/** The providers registered on `server` (wired in startConsentRig): test-idp is the honest one. */
const PROVIDERS = ["test-idp", "wrong-auth", "mixup-token", "forged-signature", "mixup-authz", "machine", "machine-wrong-auth"] as const;

/** Starts the rig. */
export async function startConsentRig(): Promise<ConsentRig> {
  const clock = { ms: Date.now() };
  const server = await startServer();
  const clockServer = await startServer({ overrides: { now: () => clock.ms } });
  const redirectUris = [`${server.baseUrl}/oauth/callback`, `${clockServer.baseUrl}/oauth/callback`];
  const storage: OidcStorage = new Map();
  const signingKey = await generateSigningKey();
  const idp = await startOidcProvider({ redirectUris, storage, signingKey });
  const same = { redirectUris, storage, clientId: idp.clientId, clientSecret: idp.clientSecret };
  const otherIdp = await startOidcProvider({ ...same, signingKey });
  // Claims A's issuer but signs with its own key under A's key id: only the signature can tell.
  const impostor = await startOidcProvider({
    ...same,
    signingKey: { ...(await generateSigningKey()), kid: signingKey.kid },
    claimIssuer: idp.issuer,
  });
  const secrets = new Set<string>([idp.clientSecret]);

  const wiring: Record<(typeof PROVIDERS)[number], Parameters<typeof registerOidcProvider>[3]> = {
    "test-idp": {},
    "wrong-auth": { oauth: { clientAuthMethod: "client_secret_post" } },
    "mixup-token": { oauth: { tokenEndpoint: `${otherIdp.issuer}/token` } },
    "forged-signature": { oauth: { tokenEndpoint: `${impostor.baseUrl}/token` } },
    "mixup-authz": { oauth: { authorizationEndpoint: `${otherIdp.issuer}/auth` } },
    machine: { authType: "oauth2_client_credentials", oauth: { defaultScopes: ["api:read"] } },
    "machine-wrong-auth": { authType: "oauth2_client_credentials", oauth: { clientAuthMethod: "client_secret_post" } },
  };
  for (const name of PROVIDERS) await registerOidcProvider(server.app, name, idp, wiring[name]);
  await registerOidcProvider(clockServer.app, "test-idp", idp);

  const rig: ConsentRig = {
    server,
    clockServer,
    clock,
    idp,
    otherIdp,
    impostor,
    secrets,
    async start(provider, extra = {}, target = server) {
      const answer = await requestConnection(target, { user_id: "user-1", provider_name: provider, return_url: RETURN_URL, ...extra });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      await rig.remember(target, answer.body.authUrl);
      return answer.body;
    },
    async remember(target, authUrl) {
      const state = new URL(authUrl).searchParams.get("state") ?? "";
      secrets.add(state);
      const peeked = await createConsentStates({ store: target.app.store, vault: target.app.vault, now: Date.now }).peek(state);
      if (peeked?.secrets?.codeVerifier) secrets.add(peeked.secrets.codeVerifier);
      if (peeked?.secrets?.nonce) secrets.add(peeked.secrets.nonce);
    },
    async drive(authUrl, options = {}) {
      const result = await driveConsent(authUrl, { stopAt: RETURN_PREFIX, ...options });
      for (const url of result.visited) {
        const code = new URL(url).searchParams.get("code");
        if (code) secrets.add(code);
      }
      return result;
    },
    async openCredential(target, connectionId) {
      const record = await target.app.store.getCredential(connectionId);
      assert.ok(record, "a credential is stored");
      const secret = decodeStoredSecret(target.app.vault.open(record.secret, credentialAad(connectionId, record.version)));
      assert.equal(secret.kind, "oauth2");
      for (const value of [secret.accessToken, secret.refreshToken, secret.idToken]) if (value) secrets.add(value);
      return secret;
    },
    assertNoSecretsLogged() {
      const logs = server.logs() + clockServer.logs();
      assert.ok(logs.includes("consent"), "the scan reads real logs");
      for (const value of secrets) {
        assert.ok(value.length >= 16, "only long values are meaningful to search for");
        assert.ok(!logs.includes(value), `a secret value (${value.length} chars) appears in the logs`);
      }
    },
    async close() {
      await server.close();
      await clockServer.close();
      await idp.close();
      await otherIdp.close();
      await impostor.close();
    },
  };
  return rig;
}
