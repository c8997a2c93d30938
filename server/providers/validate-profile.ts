/**
 * Validates a provider profile and fills its defaults: the one gate every profile passes before it
 * is stored, shipped in the catalog or read back. Single-field rules come from profile-input.ts;
 * this file adds the cross-field rules (auth type ⇄ oauth / credential_schema / strategy, client
 * authentication, who sets each URL placeholder) and reports the first problem as InvalidArgumentError with the proto
 * field path ("provider.oauth.token_endpoint"). It never sees a client secret, only whether one exists.
 */
import type { ZodError } from "zod";
import { InvalidArgumentError } from "../domain/errors.ts";
import { type Strategy, strategyFields } from "../domain/strategy.ts";
import { type CredentialSchemaChecker, createCredentialSchemaChecker } from "./credential-schema.ts";
import { endpointUrlProblem, issuerUrlProblem } from "./endpoint-url.ts";
import type { ClientAuthMethod, ConnectionExtra, OAuthSettings, ProviderProfile } from "./profile.ts";
import { type ProviderProfileInput, profileInputSchema, type StrategyInput } from "./profile-input.ts";
import { analyzeUrlTemplate, connectionSlotProblem, operatorValueProblem } from "./url-template.ts";

/** What a validation is for; presets and stored profiles relax the rules about client credentials. */
export type ValidationPurpose = "write" | "preset" | "stored";

/** Options of `ProfileValidator.validate`. */
export interface ValidateProfileOptions {
  /** Whether a client secret is (or will be) stored with the profile. Default false. */
  hasClientSecret?: boolean;
  /** Default "write": client_id required, client auth consistent with the secret. "preset" and
   * "stored" allow an empty client_id and a missing secret (the operator adds them). */
  purpose?: ValidationPurpose;
  /** Prefix of reported field paths. Default "provider". */
  fieldPrefix?: string;
}

/** Validates profiles. */
export interface ProfileValidator {
  /** Returns the profile with every default filled; throws InvalidArgumentError at the first problem. */
  validate(input: unknown, options?: ValidateProfileOptions): ProviderProfile;
}

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
const STRATEGY_CONFIG: Record<Strategy["type"], string> = {
  oauth2: "",
  header: "header",
  query_param: "query_param",
  basic_auth: "basic_auth",
  hmac_payload: "hmac_payload",
  aws_sigv4: "aws_sigv4",
};

type Problem = [path: (string | number)[], reason: string];

/** Creates a validator (it holds one JSON Schema compiler for credential schemas). */
export function createProfileValidator(): ProfileValidator {
  const schemas = createCredentialSchemaChecker();
  return {
    validate(input, options = {}) {
      const prefix = options.fieldPrefix ?? "provider";
      const parsed = profileInputSchema.safeParse(input);
      if (!parsed.success) {
        const [path, reason] = firstIssue(parsed.error);
        throw new InvalidArgumentError(fieldPath(prefix, path, strategyTypeOf(input)), reason);
      }
      const result = build(parsed.data, options.hasClientSecret ?? false, options.purpose ?? "write", schemas);
      if (Array.isArray(result)) {
        const [path, reason] = result;
        throw new InvalidArgumentError(fieldPath(prefix, path, parsed.data.strategy.type), reason);
      }
      return result;
    },
  };
}

function build(
  input: ProviderProfileInput,
  hasClientSecret: boolean,
  purpose: ValidationPurpose,
  schemas: CredentialSchemaChecker,
): ProviderProfile | Problem {
  const urlParams = input.urlParams ?? [];
  const duplicate = urlParams.find((p, i) => urlParams.indexOf(p) !== i);
  if (duplicate !== undefined) return [["urlParams"], `lists "${duplicate}" twice`];
  const isOAuth = input.authType === "oauth2" || input.authType === "oauth2_client_credentials";

  let oauth: OAuthSettings | undefined;
  let credentialSchema: Record<string, unknown> | undefined;
  if (isOAuth) {
    const built = buildOAuth(input, hasClientSecret, purpose);
    if (Array.isArray(built)) return built;
    oauth = built;
  } else {
    if (hasClientSecret && purpose === "write")
      return [["oauth", "clientSecret"], `is only used by OAuth providers, not ${input.authType}`];
    if (input.credentialSchema === undefined) return [["credentialSchema"], `is required for auth_type ${input.authType}`];
    credentialSchema = input.credentialSchema;
  }

  const type = input.strategy.type;
  if (isOAuth && type !== "oauth2" && type !== "header") {
    return [["strategy", "type"], `must be oauth2 or header for auth_type ${input.authType} (the credential is an access token)`];
  }
  if (!isOAuth && type === "oauth2") return [["strategy", "type"], `must not be oauth2 for auth_type ${input.authType}`];
  const strategy = buildStrategy(input.strategy, isOAuth, oauth);
  if (Array.isArray(strategy)) return strategy;
  if (credentialSchema !== undefined) {
    const problem = schemas.check(credentialSchema, strategyFields(strategy));
    if (problem !== undefined) return [["credentialSchema", ...problem.path], problem.reason];
  }

  const urls: [path: (string | number)[], value: string | undefined][] = [
    [["oauth", "issuer"], oauth?.issuer],
    [["oauth", "authorizationEndpoint"], oauth?.authorizationEndpoint],
    [["oauth", "tokenEndpoint"], oauth?.tokenEndpoint],
    [["oauth", "revocationEndpoint"], oauth?.revocationEndpoint],
    [["oauth", "userinfoEndpoint"], oauth?.userinfoEndpoint],
    [["testEndpoint"], input.testEndpoint],
    [["accountLookup", "url"], input.accountLookup?.url],
    [["apiBaseUrl"], input.apiBaseUrl],
  ];
  const operatorParams = input.operatorParams ?? {};
  const both = urlParams.find((name) => Object.hasOwn(operatorParams, name));
  if (both !== undefined) {
    return [
      ["operatorParams", both],
      "is also listed in url_params: a parameter is set either by the operator or by each connection, not both",
    ];
  }
  for (const [path, value] of urls) {
    if (value === undefined) continue;
    const problem = checkUrlParams(path, value, urlParams, operatorParams, purpose);
    if (problem !== undefined) return problem;
  }
  const extras = input.connectionExtras ?? [];
  for (const [i, extra] of extras.entries()) {
    if (extras.findIndex((e) => e.name === extra.name) !== i) return [["connectionExtras", i, "name"], `lists "${extra.name}" twice`];
    // Extras are captured when a user's consent ends (callback and code exchange), nowhere else.
    if (input.authType !== "oauth2") {
      return [["connectionExtras", i, "name"], `is captured at OAuth consent: auth_type must be oauth2, not ${input.authType}`];
    }
  }

  return omitUndefined({
    name: input.name,
    displayName: input.displayName || input.name,
    category: input.category ?? "",
    authType: input.authType,
    oauth,
    credentialSchema,
    strategy,
    urlParams,
    operatorParams: Object.keys(operatorParams).length > 0 ? operatorParams : undefined,
    testEndpoint: input.testEndpoint,
    accountLookup: input.accountLookup && omitUndefined({ ...input.accountLookup }),
    connectionExtras: extras.length > 0 ? extras.map((e) => omitUndefined({ ...e }) as ConnectionExtra) : undefined,
    apiBaseUrl: input.apiBaseUrl,
    proxyTimeouts:
      input.proxyTimeouts && Object.keys(omitUndefined(input.proxyTimeouts)).length > 0 ? omitUndefined(input.proxyTimeouts) : undefined,
  });
}

/**
 * The URL-parameter rule for one endpoint template (url-template.ts): every placeholder is declared
 * once, a connection-set one only fills a DNS label under a fixed registrable domain, an operator
 * value fits where it goes, and the URL with the operator's values filled in is https (or loopback
 * http). Stored profiles written before the rule are still read; filling them refuses the bad slot.
 */
function checkUrlParams(
  path: (string | number)[],
  template: string,
  urlParams: readonly string[],
  operatorParams: Readonly<Record<string, string>>,
  purpose: ValidationPurpose,
): Problem | undefined {
  const analyzed = analyzeUrlTemplate(template);
  if (!Array.isArray(analyzed)) return [path, analyzed.problem];
  const field = fieldPath("", path);
  for (const { name, slot } of analyzed) {
    if (Object.hasOwn(operatorParams, name)) {
      const value = operatorParams[name] ?? "";
      if (value === "") {
        if (purpose === "write") return [["operatorParams", name], `is required: ${field} uses {${name}}`];
        continue;
      }
      const problem = operatorValueProblem(value, slot);
      if (problem !== undefined) return [["operatorParams", name], `${problem} (it fills {${name}} in ${field})`];
    } else if (urlParams.includes(name)) {
      const problem = purpose === "stored" ? undefined : connectionSlotProblem(name, slot);
      if (problem !== undefined) return [path, problem];
    } else {
      return [path, `uses {${name}}, which is neither in url_params (set by each connection) nor in operator_params (set by the operator)`];
    }
  }
  // Judge the URL that will be called: operator values filled in, a sample label for the rest.
  let index = 0;
  const concrete = template.replace(/\{([^{}]*)\}/g, (_m, name: string) => {
    const kind = analyzed[index++]?.slot.kind;
    const value = operatorParams[name] || "x";
    return kind === "path" || kind === "query" ? encodeURIComponent(value) : value;
  });
  const problem = (path[1] === "issuer" ? issuerUrlProblem : endpointUrlProblem)(concrete);
  return problem === undefined ? undefined : [path, problem];
}

function buildOAuth(input: ProviderProfileInput, hasClientSecret: boolean, purpose: ValidationPurpose): OAuthSettings | Problem {
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
function buildStrategy(s: StrategyInput, isOAuth: boolean, oauth: OAuthSettings | undefined): Strategy | Problem {
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

function firstIssue(error: ZodError): Problem {
  const issue = error.issues[0];
  if (issue === undefined) return [[], "is invalid"];
  const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
  if (issue.code === "unrecognized_keys") return [[...path, issue.keys[0] ?? ""], "is not a known field"];
  return [path, issue.message];
}

/**
 * The proto field path of a domain path: camelCase field names become snake_case, strategy fields
 * move under their oneof config ("strategy.query_param.param_name"), list indexes become "[n]", and
 * map keys and credential_schema internals are kept as written.
 */
export function fieldPath(prefix: string, path: readonly (string | number)[], strategyType?: Strategy["type"]): string {
  let out = prefix;
  path.forEach((segment, i) => {
    if (typeof segment === "number") {
      out += `[${segment}]`;
      return;
    }
    const isField =
      i === 0 ||
      (i === 1 && (path[0] === "oauth" || path[0] === "strategy" || path[0] === "accountLookup" || path[0] === "proxyTimeouts")) ||
      (i === 2 && path[0] === "connectionExtras");
    let name = isField ? segment.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) : segment;
    if (path[0] === "strategy" && i === 1 && segment !== "type" && strategyType !== undefined && strategyType !== "oauth2") {
      name = `${STRATEGY_CONFIG[strategyType]}.${name}`;
    }
    out += out === "" ? name : `.${name}`;
  });
  return out;
}

function strategyTypeOf(input: unknown): Strategy["type"] | undefined {
  const strategy = (input as { strategy?: { type?: unknown } } | null)?.strategy;
  const type = strategy?.type;
  return typeof type === "string" && type in STRATEGY_CONFIG ? (type as Strategy["type"]) : undefined;
}

function omitUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
