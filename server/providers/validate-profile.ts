/**
 * Validates a provider profile and fills its defaults: the one gate every profile passes before it
 * is stored, shipped in the catalog or read back. Single-field rules come from profile-input.ts;
 * this file adds the cross-field rules (auth type ⇄ oauth / credential_schema / strategy, client
 * authentication, who sets each URL placeholder) and reports the first problem as InvalidArgumentError with the proto
 * field path ("provider.oauth.token_endpoint"). It never sees a client secret, only whether one exists.
 * The OAuth and strategy rules live in oauth-strategy-settings.ts, field paths in profile-field-path.ts.
 */
import { InvalidArgumentError } from "../domain/errors.ts";
import { strategyFields } from "../domain/strategy.ts";
import { type CredentialSchemaChecker, createCredentialSchemaChecker } from "./credential-schema.ts";
import { endpointUrlProblem, issuerUrlProblem } from "./endpoint-url.ts";
import { buildOAuth, buildStrategy, omitUndefined, type ValidationPurpose } from "./oauth-strategy-settings.ts";
import type { ConnectionExtra, OAuthSettings, ProviderProfile } from "./profile.ts";
import { fieldPath, firstIssue, type Problem, strategyTypeOf } from "./profile-field-path.ts";
import { type ProviderProfileInput, profileInputSchema } from "./profile-input.ts";
import { isSecretName, isSecretPointer } from "./secret-names.ts";
import { analyzeUrlTemplate, connectionSlotProblem, operatorValueProblem } from "./url-template.ts";

export type { ValidationPurpose } from "./oauth-strategy-settings.ts";
export { fieldPath } from "./profile-field-path.ts";

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
  // The account is shown to every agent of the tenant: its pointers never pass through a secret member.
  for (const field of ["idPointer", "emailPointer", "displayNamePointer"] as const) {
    const pointer = input.accountLookup?.[field];
    if (purpose !== "stored" && pointer !== undefined && isSecretPointer(pointer)) {
      return [["accountLookup", field], "points into a token, secret or code member: the account is readable by every agent"];
    }
  }
  const extras = input.connectionExtras ?? [];
  for (const [i, extra] of extras.entries()) {
    if (extras.findIndex((e) => e.name === extra.name) !== i) return [["connectionExtras", i, "name"], `lists "${extra.name}" twice`];
    // Extras are captured when a user's consent ends (callback and code exchange), nowhere else.
    if (input.authType !== "oauth2") {
      return [["connectionExtras", i, "name"], `is captured at OAuth consent: auth_type must be oauth2, not ${input.authType}`];
    }
    // Metadata is readable by every agent of the tenant: never a token, secret or one-time code.
    // A stored profile written before this rule still loads: capture picks nothing for such an extra.
    if (purpose === "stored") continue;
    if (extra.callbackParam !== undefined && isSecretName(extra.callbackParam)) {
      return [
        ["connectionExtras", i, "callbackParam"],
        `names "${extra.callbackParam}", which holds a secret (a token, code or secret): metadata is readable by every agent`,
      ];
    }
    if (extra.tokenPointer !== undefined && isSecretPointer(extra.tokenPointer)) {
      return [["connectionExtras", i, "tokenPointer"], "points into a token, secret or code member: metadata is readable by every agent"];
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
