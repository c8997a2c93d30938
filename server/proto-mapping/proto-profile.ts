/**
 * Proto Provider ⇄ provider profile. Input becomes an unvalidated ProviderProfileInput (empty strings
 * and UNSPECIFIED enums become absent, so validation fills defaults or says "is required"); output is
 * the stored profile with `has_client_secret`. The client secret is never read here and never written
 * to an output message: callers take `oauth.client_secret` from the request themselves.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  AuthType as ProtoAuthType,
  ClientAuthMethod as ProtoClientAuthMethod,
  type OAuthSettings as ProtoOAuthSettings,
  type ProxyTimeouts as ProtoProxyTimeouts,
  type Provider,
  ProviderSchema,
} from "../../gen/nexus/v1/providers_pb.ts";
import { InvalidArgumentError } from "../domain/errors.ts";
import type { AuthType, ClientAuthMethod, ProviderProfile, ProxyTimeouts, StoredProvider } from "../providers/profile.ts";
import type { OAuthSettingsInput, ProviderProfileInput } from "../providers/profile-input.ts";
import { strategyFromProto, strategyToProto } from "./strategy-proto.ts";

const AUTH_TYPE_TO_PROTO: Readonly<Record<AuthType, ProtoAuthType>> = {
  oauth2: ProtoAuthType.OAUTH2,
  oauth2_client_credentials: ProtoAuthType.OAUTH2_CLIENT_CREDENTIALS,
  api_key: ProtoAuthType.API_KEY,
  basic_auth: ProtoAuthType.BASIC_AUTH,
};

const CLIENT_AUTH_TO_PROTO: Readonly<Record<ClientAuthMethod, ProtoClientAuthMethod>> = {
  client_secret_basic: ProtoClientAuthMethod.CLIENT_SECRET_BASIC,
  client_secret_post: ProtoClientAuthMethod.CLIENT_SECRET_POST,
  none: ProtoClientAuthMethod.NONE,
};

/**
 * The profile input of a proto Provider (client secret excluded). `field` prefixes error paths.
 * @throws InvalidArgumentError for enum numbers that are not known values.
 */
export function providerFromProto(p: Provider, field = "provider"): ProviderProfileInput {
  const input = {
    name: p.name === "" ? undefined : p.name.toLowerCase(),
    displayName: orUndefined(p.displayName),
    category: orUndefined(p.category),
    authType: p.authType === ProtoAuthType.UNSPECIFIED ? undefined : fromProto(AUTH_TYPE_TO_PROTO, p.authType, `${field}.auth_type`),
    oauth: p.oauth === undefined ? undefined : oauthFromProto(p.oauth, `${field}.oauth`),
    credentialSchema: p.credentialSchema,
    strategy: p.strategy === undefined ? undefined : strategyFromProto(p.strategy, `${field}.strategy`),
    urlParams: p.urlParams.length === 0 ? undefined : p.urlParams,
    operatorParams: Object.keys(p.operatorParams).length === 0 ? undefined : p.operatorParams,
    testEndpoint: orUndefined(p.testEndpoint),
    accountLookup:
      p.accountLookup === undefined
        ? undefined
        : {
            url: p.accountLookup.url,
            idPointer: p.accountLookup.idPointer,
            emailPointer: orUndefined(p.accountLookup.emailPointer),
            displayNamePointer: orUndefined(p.accountLookup.displayNamePointer),
          },
    connectionExtras:
      p.connectionExtras.length === 0
        ? undefined
        : p.connectionExtras.map((e) => ({
            name: e.name,
            callbackParam: orUndefined(e.callbackParam),
            tokenPointer: orUndefined(e.tokenPointer),
          })),
    apiBaseUrl: orUndefined(p.apiBaseUrl),
    proxyTimeouts: p.proxyTimeouts === undefined ? undefined : proxyTimeoutsFromProto(p.proxyTimeouts),
  };
  // Absent required fields are left for validation to report with their path.
  return input as ProviderProfileInput;
}

/** Zero means "the server default": such fields are left out. */
function proxyTimeoutsFromProto(t: ProtoProxyTimeouts): ProxyTimeouts {
  const out: ProxyTimeouts = {};
  if (t.connectMs !== 0) out.connectMs = t.connectMs;
  if (t.firstByteMs !== 0) out.firstByteMs = t.firstByteMs;
  if (t.idleMs !== 0) out.idleMs = t.idleMs;
  if (t.totalMs !== 0) out.totalMs = t.totalMs;
  return out;
}

function oauthFromProto(o: ProtoOAuthSettings, field: string): OAuthSettingsInput {
  return {
    issuer: orUndefined(o.issuer),
    authorizationEndpoint: orUndefined(o.authorizationEndpoint),
    tokenEndpoint: orUndefined(o.tokenEndpoint),
    revocationEndpoint: orUndefined(o.revocationEndpoint),
    userinfoEndpoint: orUndefined(o.userinfoEndpoint),
    clientId: o.clientId,
    defaultScopes: o.defaultScopes,
    authorizeParams: o.authorizeParams,
    tokenParams: o.tokenParams,
    clientAuthMethod:
      o.clientAuthMethod === ProtoClientAuthMethod.UNSPECIFIED
        ? undefined
        : fromProto(CLIENT_AUTH_TO_PROTO, o.clientAuthMethod, `${field}.client_auth_method`),
    pkce: o.pkce,
    scopeSeparator: orUndefined(o.scopeSeparator),
    omitScopeOnExchange: o.omitScopeOnExchange,
    extraTokenFields: o.extraTokenFields,
    tokenRequestHeaders: o.tokenRequestHeaders,
    refreshTokenReuseWindowSeconds: o.refreshTokenReuseWindowSeconds,
  };
}

/** The proto Provider of a profile (no times); `has_client_secret` as given, `client_secret` always empty. */
export function profileToProto(profile: ProviderProfile, hasClientSecret = false): Provider {
  const o = profile.oauth;
  return create(ProviderSchema, {
    name: profile.name,
    displayName: profile.displayName,
    category: profile.category,
    authType: AUTH_TYPE_TO_PROTO[profile.authType],
    oauth:
      o === undefined
        ? undefined
        : {
            issuer: o.issuer ?? "",
            authorizationEndpoint: o.authorizationEndpoint ?? "",
            tokenEndpoint: o.tokenEndpoint ?? "",
            revocationEndpoint: o.revocationEndpoint ?? "",
            userinfoEndpoint: o.userinfoEndpoint ?? "",
            clientId: o.clientId,
            hasClientSecret,
            defaultScopes: o.defaultScopes,
            authorizeParams: o.authorizeParams,
            tokenParams: o.tokenParams,
            clientAuthMethod: CLIENT_AUTH_TO_PROTO[o.clientAuthMethod],
            pkce: o.pkce,
            scopeSeparator: o.scopeSeparator,
            omitScopeOnExchange: o.omitScopeOnExchange,
            extraTokenFields: o.extraTokenFields ?? [],
            tokenRequestHeaders: o.tokenRequestHeaders ?? {},
            refreshTokenReuseWindowSeconds: o.refreshTokenReuseWindowSeconds,
          },
    credentialSchema: profile.credentialSchema as Provider["credentialSchema"],
    strategy: strategyToProto(profile.strategy),
    urlParams: profile.urlParams,
    operatorParams: profile.operatorParams ?? {},
    testEndpoint: profile.testEndpoint ?? "",
    accountLookup: profile.accountLookup,
    connectionExtras: (profile.connectionExtras ?? []).map((e) => ({
      name: e.name,
      callbackParam: "callbackParam" in e ? e.callbackParam : "",
      tokenPointer: "tokenPointer" in e ? e.tokenPointer : "",
    })),
    apiBaseUrl: profile.apiBaseUrl ?? "",
    proxyTimeouts: profile.proxyTimeouts === undefined ? undefined : { ...profile.proxyTimeouts },
  });
}

/** The proto Provider of a stored provider, with create/update times and has_client_secret. */
export function storedProviderToProto(stored: StoredProvider): Provider {
  const provider = profileToProto(stored.profile, stored.hasClientSecret);
  provider.createTime = timestampFromMs(stored.createdAtMs);
  provider.updateTime = timestampFromMs(stored.updatedAtMs);
  return provider;
}

/**
 * The update-mask paths of the fields set in `p` (AIP-134: an empty mask means "every field given"):
 * non-empty strings, lists and maps, non-zero enums, true booleans, a present `pkce`, any message.
 * `name` (the identifier) and output-only fields are never included.
 */
export function presentPaths(p: Provider): string[] {
  const paths: string[] = [];
  if (p.displayName !== "") paths.push("display_name");
  if (p.category !== "") paths.push("category");
  if (p.authType !== ProtoAuthType.UNSPECIFIED) paths.push("auth_type");
  const o = p.oauth;
  if (o !== undefined) {
    const set: [string, boolean][] = [
      ["issuer", o.issuer !== ""],
      ["authorization_endpoint", o.authorizationEndpoint !== ""],
      ["token_endpoint", o.tokenEndpoint !== ""],
      ["revocation_endpoint", o.revocationEndpoint !== ""],
      ["userinfo_endpoint", o.userinfoEndpoint !== ""],
      ["client_id", o.clientId !== ""],
      ["client_secret", o.clientSecret !== ""],
      ["default_scopes", o.defaultScopes.length > 0],
      ["authorize_params", Object.keys(o.authorizeParams).length > 0],
      ["token_params", Object.keys(o.tokenParams).length > 0],
      ["client_auth_method", o.clientAuthMethod !== ProtoClientAuthMethod.UNSPECIFIED],
      ["pkce", o.pkce !== undefined],
      ["scope_separator", o.scopeSeparator !== ""],
      ["omit_scope_on_exchange", o.omitScopeOnExchange],
      ["extra_token_fields", o.extraTokenFields.length > 0],
      ["token_request_headers", Object.keys(o.tokenRequestHeaders).length > 0],
      ["refresh_token_reuse_window_seconds", o.refreshTokenReuseWindowSeconds !== undefined],
    ];
    for (const [name, isSet] of set) if (isSet) paths.push(`oauth.${name}`);
  }
  if (p.credentialSchema !== undefined) paths.push("credential_schema");
  if (p.strategy !== undefined) paths.push("strategy");
  if (p.urlParams.length > 0) paths.push("url_params");
  if (Object.keys(p.operatorParams).length > 0) paths.push("operator_params");
  if (p.testEndpoint !== "") paths.push("test_endpoint");
  if (p.accountLookup !== undefined) paths.push("account_lookup");
  if (p.connectionExtras.length > 0) paths.push("connection_extras");
  if (p.apiBaseUrl !== "") paths.push("api_base_url");
  if (p.proxyTimeouts !== undefined) paths.push("proxy_timeouts");
  return paths;
}

function fromProto<D extends string, P extends number>(table: Readonly<Record<D, P>>, value: number, field: string): D {
  const found = (Object.keys(table) as D[]).find((key) => table[key] === value);
  if (found === undefined) throw new InvalidArgumentError(field, "is not a known value");
  return found;
}

function orUndefined(value: string): string | undefined {
  return value === "" ? undefined : value;
}
