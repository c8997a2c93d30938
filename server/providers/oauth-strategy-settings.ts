/**
 * The OAuth and strategy parts of a profile: fills their defaults and checks their cross-field rules
 * (client authentication against the client secret, reserved OAuth parameters, strategy fields).
 */
import type { Strategy } from "../domain/strategy.ts";
import type { ClientAuthMethod, OAuthSettings } from "./profile.ts";
import type { Problem } from "./profile-field-path.ts";
import type { ProviderProfileInput, StrategyInput } from "./profile-input.ts";

/** What a validation is for; presets and stored profiles relax the rules about client credentials. */
export type ValidationPurpose = "write" | "preset" | "stored";

// Parameters the OAuth flow sets itself; a profile must not override them (RFC 6749 §4.1, RFC 7636).
const RESERVED_AUTHORIZE_PARAMS = new Set([
  "response_type",
  "client_id",
  "redirect_uri",
  "state",
  "scope",
  "code_challenge",
  "code_challenge_method",
  "nonce",
]);
const RESERVED_TOKEN_PARAMS = new Set([
  "grant_type",
  "code",
  "redirect_uri",
  "code_verifier",
  "client_id",
  "client_secret",
  "refresh_token",
  "scope",
]);
const RESERVED_TOKEN_HEADERS = new Set(["authorization", "content-type", "content-length", "host"]);

/**
 * Fills the OAuth settings' defaults and checks them: endpoints or issuer, client authentication
 * consistent with the client secret and purpose, and no override of parameters the flow sets itself.
 */
export function buildOAuth(input: ProviderProfileInput, hasClientSecret: boolean, purpose: ValidationPurpose): OAuthSettings | Problem {
  const o = input.oauth;
  if (o === undefined) return [["oauth"], `is required for auth_type ${input.authType}`];
  const isCodeFlow = input.authType === "oauth2";
  const clientId = o.clientId ?? "";
  if (clientId === "" && purpose === "write") return [["oauth", "clientId"], "is required"];
  if (o.issuer === undefined) {
    if (isCodeFlow && o.authorizationEndpoint === undefined)
      return [["oauth", "authorizationEndpoint"], "is required unless oauth.issuer is set"];
    if (o.tokenEndpoint === undefined) return [["oauth", "tokenEndpoint"], "is required unless oauth.issuer is set"];
  }
  const pkce = o.pkce ?? true;
  const method: ClientAuthMethod = o.clientAuthMethod ?? (hasClientSecret ? "client_secret_basic" : "none");
  if (method === "none") {
    if (!isCodeFlow) return [["oauth", "clientAuthMethod"], "must not be none for client credentials (the client must authenticate)"];
    if (!pkce) return [["oauth", "pkce"], "must be true when client_auth_method is none (a public client needs PKCE, RFC 7636)"];
    if (hasClientSecret && purpose === "write") {
      return [
        ["oauth", "clientAuthMethod"],
        "is none, so the client secret would never be sent: use client_secret_basic or client_secret_post",
      ];
    }
  } else if (!hasClientSecret && purpose === "write") {
    return [["oauth", "clientSecret"], `is required when client_auth_method is ${method}`];
  }
  for (const key of Object.keys(o.authorizeParams ?? {})) {
    if (RESERVED_AUTHORIZE_PARAMS.has(key)) return [["oauth", "authorizeParams", key], "is set by the OAuth flow and cannot be overridden"];
  }
  for (const key of Object.keys(o.tokenParams ?? {})) {
    if (RESERVED_TOKEN_PARAMS.has(key)) return [["oauth", "tokenParams", key], "is set by the OAuth flow and cannot be overridden"];
  }
  for (const key of Object.keys(o.tokenRequestHeaders ?? {})) {
    if (RESERVED_TOKEN_HEADERS.has(key.toLowerCase()))
      return [["oauth", "tokenRequestHeaders", key], "is set by the OAuth flow and cannot be overridden"];
  }
  return omitUndefined({
    issuer: o.issuer,
    authorizationEndpoint: o.authorizationEndpoint,
    tokenEndpoint: o.tokenEndpoint,
    revocationEndpoint: o.revocationEndpoint,
    userinfoEndpoint: o.userinfoEndpoint,
    clientId,
    defaultScopes: o.defaultScopes ?? [],
    authorizeParams: o.authorizeParams ?? {},
    tokenParams: o.tokenParams ?? {},
    clientAuthMethod: method,
    pkce,
    scopeSeparator: o.scopeSeparator ?? " ",
    omitScopeOnExchange: o.omitScopeOnExchange ?? false,
    extraTokenFields: o.extraTokenFields?.length ? o.extraTokenFields : undefined,
    tokenRequestHeaders: o.tokenRequestHeaders && Object.keys(o.tokenRequestHeaders).length > 0 ? o.tokenRequestHeaders : undefined,
    refreshTokenReuseWindowSeconds: o.refreshTokenReuseWindowSeconds,
  });
}

/** Fills strategy defaults (protocol.md "Strategies") and checks the required fields. */
export function buildStrategy(s: StrategyInput, isOAuth: boolean, oauth: OAuthSettings | undefined): Strategy | Problem {
  switch (s.type) {
    case "oauth2":
      return { type: "oauth2" };
    case "header": {
      // An OAuth credential holds access_token (plus any extra token fields), never api_key.
      const credentialField = s.credentialField ?? (isOAuth ? "access_token" : "api_key");
      if (isOAuth && credentialField !== "access_token" && !oauth?.extraTokenFields?.includes(credentialField)) {
        return [["strategy", "credentialField"], "must be access_token (or one of oauth.extra_token_fields) for an OAuth provider"];
      }
      return { type: "header", headerName: s.headerName ?? "Authorization", credentialField, valuePrefix: s.valuePrefix ?? "" };
    }
    case "query_param":
      if (s.paramName === undefined) return [["strategy", "paramName"], "is required for strategy type query_param"];
      return { type: "query_param", paramName: s.paramName, credentialField: s.credentialField ?? "api_key" };
    case "basic_auth":
      if ((s.usernameField ?? "username") === (s.passwordField ?? "password")) {
        return [["strategy", "passwordField"], "must differ from username_field"];
      }
      return { type: "basic_auth", usernameField: s.usernameField ?? "username", passwordField: s.passwordField ?? "password" };
    case "hmac_payload":
      if (s.headerName === undefined) return [["strategy", "headerName"], "is required for strategy type hmac_payload"];
      return {
        type: "hmac_payload",
        headerName: s.headerName,
        secretField: s.secretField ?? "api_secret",
        algorithm: s.algorithm ?? "sha256",
        encoding: s.encoding ?? "hex",
      };
    case "aws_sigv4":
      if (s.service === undefined) return [["strategy", "service"], "is required for strategy type aws_sigv4"];
      return { type: "aws_sigv4", service: s.service, region: s.region ?? "us-east-1" };
    default: {
      const unreachable: never = s;
      return unreachable;
    }
  }
}

/** A copy of `value` without its undefined fields. */
export function omitUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
