/**
 * Shared steps of the consent tests: registering a test OpenID Provider as a Nexus provider and
 * calling the seed's REST endpoints (request-connection, check-connection, reconnect).
 */
import type { App } from "../../server/app.ts";
import type { ProviderProfileInput } from "../../server/providers/profile-input.ts";
import { createProviderDirectory } from "../../server/providers/provider-directory.ts";
import type { TestOidcProvider } from "./oidc-provider.ts";
import type { TestServer } from "./start-server.ts";

/** Registers `idp` as an oauth2 provider named `name`; `oauth` overrides the OIDC defaults. */
export async function registerOidcProvider(
  app: App,
  name: string,
  idp: TestOidcProvider,
  options: { oauth?: Record<string, unknown>; authType?: "oauth2" | "oauth2_client_credentials"; urlParams?: string[] } = {},
): Promise<void> {
  const directory = createProviderDirectory({ store: app.store, vault: app.vault });
  const profile = {
    name,
    displayName: name,
    authType: options.authType ?? "oauth2",
    urlParams: options.urlParams,
    oauth: {
      issuer: idp.issuer,
      clientId: idp.clientId,
      // oidc-provider issues a refresh token only for offline_access with prompt=consent (OIDC Core §11).
      defaultScopes: options.authType === "oauth2_client_credentials" ? [] : ["openid", "offline_access"],
      authorizeParams: options.authType === "oauth2_client_credentials" ? {} : { prompt: "consent" },
      clientAuthMethod: "client_secret_basic",
      ...options.oauth,
    },
    strategy: { type: "oauth2" },
  } as unknown as ProviderProfileInput;
  await directory.create(profile, idp.clientSecret);
}

/** A REST answer: status and parsed JSON body. */
export interface RestAnswer<T = Record<string, unknown>> {
  status: number;
  body: T;
}

/** The server a call goes to, and how it authenticates (the test server's agent key by default). */
export type RestTarget = Pick<TestServer, "baseUrl" | "auth">;

/** POSTs JSON to a REST path of the server. */
export async function postJson<T = Record<string, unknown>>(target: RestTarget, path: string, body: unknown): Promise<RestAnswer<T>> {
  const res = await fetch(`${target.baseUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...target.auth() },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

/** GETs a REST path of the server. */
export async function getJson<T = Record<string, unknown>>(target: RestTarget, path: string): Promise<RestAnswer<T>> {
  const res = await fetch(`${target.baseUrl}${path}`, { headers: target.auth() });
  return { status: res.status, body: (await res.json()) as T };
}

/** The seed's request-connection answer. */
export interface RequestConnectionAnswer {
  authUrl: string;
  connection_id: string;
  status: string;
  auth_url_expires_at?: string | number;
  code?: string;
  message?: string;
}

/** POST /v1/request-connection. */
export function requestConnection(target: RestTarget, body: Record<string, unknown>): Promise<RestAnswer<RequestConnectionAnswer>> {
  return postJson<RequestConnectionAnswer>(target, "/v1/request-connection", body);
}
