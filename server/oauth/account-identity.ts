/**
 * Learns which provider account a fresh credential belongs to, in order of trust: the claims of the
 * id_token the code exchange already verified (OIDC Core §2: sub, email, name / preferred_username),
 * else the OIDC userinfo endpoint (OIDC Core §5.3), else the profile's account_lookup ("who am I")
 * request with the credential applied the way the strategy says. Every request is bounded by the
 * provider transport's timeouts, follows no redirect, reads at most MAX_LOOKUP_BODY_BYTES, and
 * nothing here throws: a failure is a result with a reason that holds no token, URL or body.
 */
import { customFetch, processUserInfoResponse, skipSubjectCheck, userInfoRequest } from "oauth4webapi";
import { type ConnectionAccount, connectionAccount } from "../domain/connection-account.ts";
import type { OAuthTokenSet } from "../domain/stored-secret.ts";
import type { Strategy } from "../domain/strategy.ts";
import { endpointUrlProblem } from "../providers/endpoint-url.ts";
import { pickScalar } from "../providers/json-pointer.ts";
import type { AccountLookup, ProviderProfile } from "../providers/profile.ts";
import { fillUrlTemplate, urlParamValues } from "../providers/url-template.ts";
import { type FetchFn, InsecureEndpointError, isAllowedEndpointUrl } from "./request-options.ts";
import type { ResolvedProvider } from "./resolved-provider.ts";

/** Largest account-lookup answer read, bytes; a longer one is a failure. */
export const MAX_LOOKUP_BODY_BYTES = 256 * 1024;

/** Where an account came from. */
export type AccountSource = "id_token" | "userinfo" | "account_lookup";

/** One attempt's outcome, for logs and metrics (codes only). */
export interface AccountAttempt {
  source: AccountSource;
  outcome: "ok" | "failed";
  /** Why it failed: a short code such as "http_401", "no_id", "redirect", "network". */
  reason?: string;
}

/** What `learnAccount` found: the account (null when no source said) and every attempt made. */
export interface LearnedAccount {
  account: ConnectionAccount | null;
  source: AccountSource | null;
  attempts: AccountAttempt[];
}

/** What `learnAccount` needs. */
export interface LearnAccountInput {
  provider: ResolvedProvider;
  profile: ProviderProfile;
  tokens: OAuthTokenSet;
  /** The connection's URL parameters (fill account_lookup's `{param}` placeholders). */
  params: Readonly<Record<string, string>>;
}

/**
 * Tries each source in turn; never throws. A verified id_token that names the subject but not the
 * e-mail or name (OIDC Core §5.4: with an access token, scope claims may come only from userinfo)
 * is completed from userinfo, whose `sub` must then be the same (§5.3.2).
 */
export async function learnAccount(input: LearnAccountInput): Promise<LearnedAccount> {
  const attempts: AccountAttempt[] = [];
  let account: ConnectionAccount | null = null;
  let source: AccountSource | null = null;
  const fromIdToken = idTokenAccount(input);
  if (fromIdToken !== undefined) {
    attempts.push(fromIdToken.attempt);
    if (fromIdToken.account !== null) [account, source] = [fromIdToken.account, "id_token"];
  }
  const complete = account !== null && account.email !== null && account.displayName !== null;
  if (!complete && input.provider.as.userinfo_endpoint !== undefined) {
    const found = await userinfoAccount(input, account?.id);
    attempts.push(found.attempt);
    if (found.account !== null) {
      source ??= "userinfo";
      account = {
        id: found.account.id,
        email: account?.email ?? found.account.email,
        displayName: account?.displayName ?? found.account.displayName,
      };
    }
  }
  if (account === null && input.profile.accountLookup !== undefined) {
    const found = await lookupAccount(input.profile, input.params, input.profile.accountLookup, oauthLookup(input));
    attempts.push(found.attempt);
    if (found.account !== null) [account, source] = [found.account, "account_lookup"];
  }
  return { account, source, attempts };
}

type Found = { account: ConnectionAccount | null; attempt: AccountAttempt };

function ok(source: AccountSource, account: ConnectionAccount | null): Found {
  return account === null ? failed(source, "no_id") : { account, attempt: { source, outcome: "ok" } };
}

function failed(source: AccountSource, reason: string): Found {
  return { account: null, attempt: { source, outcome: "failed", reason } };
}

/** The verified id_token's claims (only when the exchange verified one against a pinned issuer). */
function idTokenAccount({ provider, tokens }: LearnAccountInput): Found | undefined {
  if (tokens.idToken === undefined || !provider.hasIssuer) return undefined;
  let claims: Record<string, unknown>;
  try {
    const payload = tokens.idToken.split(".")[1] ?? "";
    claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
  } catch {
    return failed("id_token", "unreadable");
  }
  return ok("id_token", claimsAccount(claims));
}

/** OIDC standard claims → account: sub, email, name else preferred_username. */
function claimsAccount(claims: Readonly<Record<string, unknown>>): ConnectionAccount | null {
  const str = (name: string) => (typeof claims[name] === "string" ? (claims[name] as string) : undefined);
  return connectionAccount({ id: str("sub"), email: str("email"), displayName: str("name") ?? str("preferred_username") });
}

/**
 * GET userinfo with the access token (oauth4webapi: no redirects, the provider's timeouts). With
 * `expectedSubject` (from the id_token) an answer about another subject is a failure.
 */
async function userinfoAccount({ provider, tokens }: LearnAccountInput, expectedSubject: string | undefined): Promise<Found> {
  try {
    const response = await userInfoRequest(provider.as, provider.client, tokens.accessToken, provider.http);
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      return failed("userinfo", statusReason(response.status));
    }
    const claims = await processUserInfoResponse(provider.as, provider.client, expectedSubject ?? skipSubjectCheck, response);
    return ok("userinfo", claimsAccount(claims));
  } catch (err) {
    return failed("userinfo", errorReason(err));
  }
}

/** How one account_lookup request goes out: the transport and the credential's fields by name. */
interface LookupRequest {
  fetch: FetchFn;
  signal: (url: URL) => AbortSignal;
  /** The credential field the strategy names (access_token, an extra token field, an entered field). */
  field: (name: string) => string;
  /** "DPoP" for a DPoP-bound access token; otherwise the oauth2 strategy sends Bearer. */
  tokenType?: string;
}

/** The OAuth credential's view for the lookup, over the provider's transport. */
function oauthLookup({ provider, tokens }: LearnAccountInput): LookupRequest {
  const http = provider.http;
  return {
    fetch: http[customFetch] as unknown as FetchFn,
    signal: (url) => (typeof http.signal === "function" ? http.signal(url.href) : (http.signal ?? AbortSignal.timeout(10_000))),
    field: (name) => (name === "access_token" ? tokens.accessToken : (tokens.extra?.[name] ?? "")),
    tokenType: tokens.tokenType,
  };
}

/** What `learnAccountFromFields` needs: entered fields (hosted key capture) and the transport. */
export interface LearnFromFieldsInput {
  profile: ProviderProfile;
  fields: Readonly<Record<string, string>>;
  params: Readonly<Record<string, string>>;
  fetch: FetchFn;
  timeoutMs: number;
}

/**
 * The account of entered credentials (api_key, basic_auth): only the profile's account_lookup can
 * say. Same rules as after OAuth consent (https or loopback http, no redirects, bounded); never throws.
 */
export async function learnAccountFromFields(input: LearnFromFieldsInput): Promise<LearnedAccount> {
  const lookup = input.profile.accountLookup;
  if (lookup === undefined) return { account: null, source: null, attempts: [] };
  const found = await lookupAccount(input.profile, input.params, lookup, {
    fetch: (url, init) => (isAllowedEndpointUrl(url) ? input.fetch(url, init) : Promise.reject(new InsecureEndpointError())),
    signal: () => AbortSignal.timeout(input.timeoutMs),
    field: (name) => input.fields[name] ?? "",
  });
  return { account: found.account, source: found.account === null ? null : "account_lookup", attempts: [found.attempt] };
}

/** The profile's "who am I" GET, the credential applied as the strategy says. */
async function lookupAccount(
  profile: ProviderProfile,
  params: Readonly<Record<string, string>>,
  lookup: AccountLookup,
  request: LookupRequest,
): Promise<Found> {
  let url: URL;
  try {
    const filled = fillUrlTemplate(lookup.url, urlParamValues(profile, params));
    if (endpointUrlProblem(filled) !== undefined) return failed("account_lookup", "bad_url");
    url = new URL(filled);
  } catch {
    return failed("account_lookup", "bad_url");
  }
  const headers = new Headers({ accept: "application/json", "user-agent": "nexus-account-lookup" });
  if (!applyCredential(profile.strategy, request, url, headers)) return failed("account_lookup", "unsupported_strategy");
  try {
    // "manual": a redirect is a failure; following it could hand the credential to another host.
    const response = await request.fetch(url.href, { method: "GET", headers, redirect: "manual", signal: request.signal(url) });
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      return failed("account_lookup", statusReason(response.status));
    }
    const body = await readLimited(response, MAX_LOOKUP_BODY_BYTES);
    if (body === undefined) return failed("account_lookup", "too_large");
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      return failed("account_lookup", "not_json");
    }
    return ok(
      "account_lookup",
      connectionAccount({
        id: pickScalar(json, lookup.idPointer),
        email: lookup.emailPointer === undefined ? undefined : pickScalar(json, lookup.emailPointer),
        displayName: lookup.displayNamePointer === undefined ? undefined : pickScalar(json, lookup.displayNamePointer),
      }),
    );
  } catch (err) {
    return failed("account_lookup", errorReason(err));
  }
}

/** Applies a credential as the strategy says; false for a strategy that needs more than a GET (HMAC, SigV4). */
function applyCredential(strategy: Strategy, request: LookupRequest, url: URL, headers: Headers): boolean {
  try {
    switch (strategy.type) {
      case "oauth2":
        headers.set("authorization", `${request.tokenType === "DPoP" ? "DPoP" : "Bearer"} ${request.field("access_token")}`);
        return true;
      case "header":
        headers.set(strategy.headerName, `${strategy.valuePrefix}${request.field(strategy.credentialField)}`);
        return true;
      case "query_param":
        url.searchParams.set(strategy.paramName, request.field(strategy.credentialField));
        return true;
      case "basic_auth": {
        // RFC 7617 §2.1: user-id ":" password, UTF-8, base64.
        const pair = `${request.field(strategy.usernameField)}:${request.field(strategy.passwordField)}`;
        headers.set("authorization", `Basic ${Buffer.from(pair, "utf8").toString("base64")}`);
        return true;
      }
      default:
        return false;
    }
  } catch {
    // Headers refuses values with control characters: such a credential cannot be sent.
    return false;
  }
}

/** The body as text when it is at most `max` bytes, else undefined (the rest is not read). */
async function readLimited(response: Response, max: number): Promise<string | undefined> {
  const reader = response.body?.getReader();
  if (reader === undefined) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function statusReason(status: number): string {
  return status >= 300 && status < 400 ? "redirect" : `http_${status}`;
}

function errorReason(err: unknown): string {
  if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError")) return "timeout";
  if (err instanceof TypeError) return "network";
  return err instanceof Error ? err.name.replace(/[^A-Za-z]/g, "").slice(0, 40) || "error" : "error";
}
