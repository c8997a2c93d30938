/**
 * The zod schema of a provider profile as written (API input, catalog preset or stored JSON): the
 * ProviderProfile shape with every defaulted field optional, and the rules that concern one field
 * alone (lengths, patterns, URLs, header tokens). Cross-field rules and defaults live in
 * validate-profile.ts. Messages are reasons ("must be …"); the field path is added by the caller.
 */
import { z } from "zod";
import { apiBaseTemplateProblem, endpointTemplateProblem, issuerTemplateProblem, URL_PARAM_PATTERN } from "./endpoint-url.ts";
import { jsonPointerProblem } from "./json-pointer.ts";

/** Provider name: lower-case letters, digits and '-', starting with a letter or digit, 1-64 characters. */
export const PROVIDER_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** An HTTP header name: a token (RFC 9110 §5.6.2), 1-128 characters. */
export const HEADER_NAME_PATTERN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$/;

const required = (what: string) => (issue: { input?: unknown }) => (issue.input === undefined ? "is required" : `must be ${what}`);

const text = (max: number) => z.string({ error: required("a string") }).max(max, { error: `must be at most ${max} characters` });

const requiredText = (max: number) => text(max).min(1, { error: "is required" });

const noLineBreaks = (max: number) => text(max).refine((v) => !/[\r\n\0]/.test(v), { error: "must not contain line breaks" });

const urlField = (check: (value: string) => string | undefined) =>
  z.string({ error: required("a string") }).superRefine((value, ctx) => {
    const problem = check(value);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
  });

const headerName = z
  .string({ error: required("a string") })
  .regex(HEADER_NAME_PATTERN, { error: "must be an HTTP header name (token characters, 1-128)" });

const fieldName = requiredText(128).regex(/^[A-Za-z0-9_.-]+$/, { error: "must be letters, digits, '_', '.' or '-'" });

const stringMap = z.record(z.string().min(1, { error: "keys must not be empty" }).max(128), noLineBreaks(2048), {
  error: required("an object of strings"),
});

const scope = z
  .string()
  .min(1, { error: "must not be empty" })
  .max(256, { error: "must be at most 256 characters" })
  .regex(/^[^\s]+$/, { error: "must not contain whitespace" });

const timeoutMs = z
  .int({ error: "must be a whole number of milliseconds" })
  .min(1, { error: "must be 1 to 3600000" })
  .max(3_600_000, { error: "must be 1 to 3600000" });

const list = <T extends z.ZodType>(item: T, max: number) =>
  z.array(item, { error: required("a list") }).max(max, { error: `must have at most ${max} entries` });

const jsonPointer = urlField(jsonPointerProblem);

/** A metadata key: lower_snake_case, 1-63 characters. */
export const METADATA_KEY_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;

/** Account lookup input. */
export const accountLookupInputSchema = z.strictObject({
  url: urlField(endpointTemplateProblem),
  idPointer: jsonPointer,
  emailPointer: jsonPointer.optional(),
  displayNamePointer: jsonPointer.optional(),
});

/** One connection extra: a metadata name and exactly one source. */
export const connectionExtraInputSchema = z
  .strictObject({
    name: z.string({ error: required("a string") }).regex(METADATA_KEY_PATTERN, { error: "must be lower_snake_case, 1-63 characters" }),
    callbackParam: requiredText(128)
      .regex(/^[A-Za-z0-9_.-]+$/, { error: "must be letters, digits, '_', '.' or '-'" })
      .optional(),
    tokenPointer: jsonPointer.optional(),
  })
  .refine((e) => (e.callbackParam === undefined) !== (e.tokenPointer === undefined), {
    error: "must set exactly one of callback_param and token_pointer",
  });

/** Strategy input: the domain Strategy with every defaulted field optional. */
export const strategyInputSchema = z.discriminatedUnion(
  "type",
  [
    z.strictObject({ type: z.literal("oauth2") }),
    z.strictObject({
      type: z.literal("header"),
      headerName: headerName.optional(),
      credentialField: fieldName.optional(),
      valuePrefix: noLineBreaks(64).optional(),
    }),
    z.strictObject({
      type: z.literal("query_param"),
      paramName: requiredText(128).optional(),
      credentialField: fieldName.optional(),
    }),
    z.strictObject({
      type: z.literal("basic_auth"),
      usernameField: fieldName.optional(),
      passwordField: fieldName.optional(),
    }),
    z.strictObject({
      type: z.literal("hmac_payload"),
      headerName: headerName.optional(),
      secretField: fieldName.optional(),
      algorithm: z.enum(["sha256", "sha1"], { error: "must be sha256 or sha1" }).optional(),
      encoding: z.enum(["hex", "base64"], { error: "must be hex or base64" }).optional(),
    }),
    z.strictObject({
      type: z.literal("aws_sigv4"),
      service: requiredText(64)
        .regex(/^[a-z0-9-]+$/, { error: "must be an AWS signing name, e.g. s3" })
        .optional(),
      region: requiredText(64)
        .regex(/^[a-z0-9-]+$/, { error: "must be an AWS region, e.g. us-east-1" })
        .optional(),
    }),
  ],
  {
    error: (issue) =>
      issue.input === undefined ? "is required" : "must have a type of oauth2, header, query_param, basic_auth, hmac_payload or aws_sigv4",
  },
);

/** OAuth settings input. */
export const oauthInputSchema = z.strictObject({
  issuer: urlField(issuerTemplateProblem).optional(),
  authorizationEndpoint: urlField(endpointTemplateProblem).optional(),
  tokenEndpoint: urlField(endpointTemplateProblem).optional(),
  revocationEndpoint: urlField(endpointTemplateProblem).optional(),
  userinfoEndpoint: urlField(endpointTemplateProblem).optional(),
  clientId: noLineBreaks(512).optional(),
  defaultScopes: list(scope, 100).optional(),
  authorizeParams: stringMap.optional(),
  tokenParams: stringMap.optional(),
  clientAuthMethod: z
    .enum(["client_secret_basic", "client_secret_post", "none"], {
      error: "must be client_secret_basic, client_secret_post or none",
    })
    .optional(),
  pkce: z.boolean({ error: "must be true or false" }).optional(),
  // A string rather than an enum so that ProviderProfile (scopeSeparator: string) stays assignable.
  scopeSeparator: z
    .string()
    .refine((v) => v === " " || v === ",", { error: 'must be " " or ","' })
    .optional(),
  omitScopeOnExchange: z.boolean({ error: "must be true or false" }).optional(),
  extraTokenFields: list(fieldName, 20).optional(),
  tokenRequestHeaders: z.record(headerName, noLineBreaks(1024), { error: required("an object of strings") }).optional(),
  refreshTokenReuseWindowSeconds: z
    .int({ error: "must be a whole number of seconds" })
    .min(0, { error: "must be 0 to 86400" })
    .max(86_400, { error: "must be 0 to 86400" })
    .optional(),
});

/** Provider profile input (API, catalog or store), before defaults and cross-field rules. */
export const profileInputSchema = z.strictObject({
  name: z.string({ error: required("a string") }).regex(PROVIDER_NAME_PATTERN, {
    error: "must be 1-64 characters of lower-case letters, digits and '-', starting with a letter or digit",
  }),
  displayName: text(128).optional(),
  category: text(64).optional(),
  authType: z.enum(["oauth2", "oauth2_client_credentials", "api_key", "basic_auth"], {
    error: required("oauth2, oauth2_client_credentials, api_key or basic_auth"),
  }),
  oauth: oauthInputSchema.optional(),
  credentialSchema: z.record(z.string(), z.unknown(), { error: "must be a JSON object" }).optional(),
  strategy: strategyInputSchema,
  urlParams: list(z.string().regex(URL_PARAM_PATTERN, { error: "must be lower_snake_case, 1-64 characters" }), 10).optional(),
  // Values are checked against where their placeholders sit (validate-profile.ts); empty = not set yet.
  operatorParams: z
    .record(
      z.string().regex(URL_PARAM_PATTERN, { error: "keys must be lower_snake_case, 1-64 characters" }),
      text(1024).refine((v) => !/\p{Cc}/u.test(v), { error: "must not contain control characters" }),
      { error: required("an object of strings") },
    )
    .refine((m) => Object.keys(m).length <= 10, { error: "must have at most 10 entries" })
    .optional(),
  testEndpoint: urlField(endpointTemplateProblem).optional(),
  accountLookup: accountLookupInputSchema.optional(),
  connectionExtras: list(connectionExtraInputSchema, 16).optional(),
  apiBaseUrl: urlField(apiBaseTemplateProblem).optional(),
  proxyTimeouts: z
    .strictObject({
      connectMs: timeoutMs.optional(),
      firstByteMs: timeoutMs.optional(),
      idleMs: timeoutMs.optional(),
      totalMs: timeoutMs.optional(),
    })
    .optional(),
});

/** A provider profile as written, before validation. ProviderProfile is assignable to it. */
export type ProviderProfileInput = z.input<typeof profileInputSchema>;

/** Strategy input, before defaults. */
export type StrategyInput = z.input<typeof strategyInputSchema>;

/** OAuth settings input, before defaults. */
export type OAuthSettingsInput = z.input<typeof oauthInputSchema>;
