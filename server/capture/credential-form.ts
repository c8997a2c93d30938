/**
 * The credential form of a key-based provider: turns its `credentialSchema` (JSON Schema draft
 * 2020-12, operator data) into form fields and checks submitted values with Ajv. It owns which
 * fields exist and which values are accepted; it renders no HTML, stores nothing and never puts a
 * submitted value into an error message.
 */
import type { ErrorObject, ValidateFunction } from "ajv/dist/2020.js";
import { InvalidArgumentError } from "../domain/errors.ts";
import { strategyFields } from "../domain/strategy.ts";
import { loadAjv2020 } from "../providers/credential-schema.ts";
import type { ProviderProfile } from "../providers/profile.ts";

/** Name of the form's submit/cancel button; no schema property may use it. */
export const ACTION_FIELD = "_nexus_action";

/** One input of the form, as derived from a schema property. */
export interface FormField {
  /** Property name: the form field name and the key in the stored EnteredFields. */
  name: string;
  /** `title`, or the property name. */
  label: string;
  description: string | null;
  /** `format: "password"` or `writeOnly: true`: rendered masked and never echoed back. */
  isSecret: boolean;
  isRequired: boolean;
  /** `enum` values (rendered as a select), or null. */
  options: string[] | null;
  maxLength: number | null;
  minLength: number | null;
  /** The schema `pattern` rewritten for HTML's anchored `pattern` attribute; null when it cannot be. */
  htmlPattern: string | null;
  /** `default` of a non-secret field. */
  defaultValue: string | null;
  /** First of `examples`, as a placeholder. */
  placeholder: string | null;
}

/** What reading a submitted form gives: the fields to store, or per-field messages. */
export type FormReading =
  | { ok: true; fields: Record<string, string> }
  | { ok: false; fieldErrors: Record<string, string>; formErrors: string[] };

/** A provider's compiled credential form. */
export interface CredentialForm {
  readonly fields: readonly FormField[];
  /**
   * Picks the schema's properties out of a submitted form and validates them. An empty input counts
   * as absent (an HTML form always sends every text input); other values are kept exactly as typed.
   */
  read(form: URLSearchParams): FormReading;
}

// Formats Ajv would otherwise reject as unknown in strict mode. "password" is a UI hint only.
const FORMATS = {
  password: true,
  email: /^[^\s@]+@[^\s@]+$/,
  uri: (value: string) => URL.canParse(value),
} as const;

/**
 * Compiles a key-based provider's form. Without a `credentialSchema`, the fields the strategy reads
 * become required strings (all secret, except a basic_auth user name).
 * @throws InvalidArgumentError when the schema is not a strict draft 2020-12 object schema of string
 *   properties, or leaves out a field the strategy reads — an operator error, found before a user
 *   types anything.
 */
export function compileCredentialForm(profile: ProviderProfile): CredentialForm {
  const schema = profile.credentialSchema ?? defaultSchema(profile);
  if (schema.type !== "object" || !isRecord(schema.properties)) {
    throw invalid('must be an object schema with "properties"');
  }
  const required = Array.isArray(schema.required) ? schema.required.filter((r) => typeof r === "string") : [];
  for (const name of strategyFields(profile.strategy)) {
    if (!Object.hasOwn(schema.properties, name) || !required.includes(name)) {
      throw invalid(`must require the property "${name}" that the ${profile.strategy.type} strategy reads`);
    }
  }
  const fields = Object.entries(schema.properties).map(([name, property]) => toField(name, property, required));
  let validate: ValidateFunction;
  try {
    const found = { keywords: new Set<string>(), formats: new Set<string>() };
    collectAnnotations(schema, found);
    // Formats Nexus cannot check stay annotations, as the provider directory treats them.
    const formats: Record<string, true | RegExp | ((value: string) => boolean)> = {};
    for (const format of found.formats) formats[format] = true;
    const ajv = new (loadAjv2020())({
      allErrors: true,
      strict: true,
      coerceTypes: false,
      useDefaults: false,
      removeAdditional: false,
      formats: { ...formats, ...FORMATS },
    });
    // "x-…" keywords are the operator's own form annotations (the directory allows them).
    if (found.keywords.size > 0) ajv.addVocabulary([...found.keywords]);
    validate = ajv.compile(schema);
  } catch (cause) {
    throw invalid(cause instanceof Error ? cause.message : "does not compile", cause);
  }
  return {
    fields,
    read(form) {
      const value: Record<string, string> = {};
      for (const field of fields) {
        const entered = form.get(field.name);
        if (entered !== null && entered !== "") value[field.name] = entered;
      }
      if (validate(value)) return { ok: true, fields: value };
      return explain(validate.errors ?? [], fields);
    },
  };
}

function toField(name: string, property: unknown, required: readonly string[]): FormField {
  if (name === ACTION_FIELD) throw invalid(`property name "${ACTION_FIELD}" is reserved`);
  if (!isRecord(property) || property.type !== "string") {
    throw invalid(`property "${name}" must have type "string" (entered fields are stored as text)`);
  }
  const isSecret = property.format === "password" || property.writeOnly === true;
  const options = Array.isArray(property.enum) ? property.enum.filter((v) => typeof v === "string") : null;
  const examples = Array.isArray(property.examples) ? property.examples : [];
  return {
    name,
    label: typeof property.title === "string" && property.title !== "" ? property.title : name,
    description: typeof property.description === "string" ? property.description : null,
    isSecret,
    isRequired: required.includes(name),
    options,
    maxLength: typeof property.maxLength === "number" ? property.maxLength : null,
    minLength: typeof property.minLength === "number" ? property.minLength : null,
    htmlPattern: typeof property.pattern === "string" ? htmlPattern(property.pattern) : null,
    defaultValue: !isSecret && typeof property.default === "string" ? property.default : null,
    placeholder: typeof examples[0] === "string" ? examples[0] : null,
  };
}

/** Compiled forms by schema and strategy, so a form is not recompiled on every request. */
export interface CredentialFormCache {
  /** The profile's form, compiled on first use; throws as compileCredentialForm does. */
  of(profile: ProviderProfile): CredentialForm;
}

/** Creates a cache of at most `limit` forms (cleared when full: profiles change rarely). */
export function createCredentialFormCache(limit = 32): CredentialFormCache {
  const forms = new Map<string, CredentialForm>();
  return {
    of(profile) {
      const key = JSON.stringify([profile.credentialSchema ?? null, profile.strategy]);
      let form = forms.get(key);
      if (form === undefined) {
        form = compileCredentialForm(profile);
        if (forms.size >= limit) forms.clear();
        forms.set(key, form);
      }
      return form;
    },
  };
}

// JSON Schema patterns are unanchored; HTML anchors `pattern` as ^(?:…)$ and compiles it with the
// `v` flag. Pad the unanchored ends so the browser accepts exactly what the server does (with an
// alternation, both ends: "^a|b" anchors one branch only), and drop the attribute when the pattern
// is not valid in `v` mode (the server still checks it).
function htmlPattern(pattern: string): string | null {
  const any = "[\\s\\S]*";
  const hasAlternation = pattern.includes("|");
  const head = !hasAlternation && pattern.startsWith("^") ? "" : any;
  const tail = !hasAlternation && pattern.endsWith("$") && !pattern.endsWith("\\$") ? "" : any;
  const candidate = hasAlternation ? `${head}(?:${pattern})${tail}` : `${head}${pattern}${tail}`;
  try {
    new RegExp(`^(?:${candidate})$`, "v");
    return candidate;
  } catch {
    return null;
  }
}

function explain(errors: readonly ErrorObject[], fields: readonly FormField[]): FormReading {
  const known = new Set(fields.map((f) => f.name));
  const fieldErrors: Record<string, string> = {};
  const formErrors: string[] = [];
  for (const error of errors) {
    const missing = error.params.missingProperty;
    const name = typeof missing === "string" ? missing : pointerHead(error.instancePath);
    const message = typeof missing === "string" ? "This field is required." : describe(error);
    if (name !== null && known.has(name)) fieldErrors[name] ??= message;
    else formErrors.push(`The entered values are not accepted: ${error.message ?? error.keyword}.`);
  }
  return { ok: false, fieldErrors, formErrors };
}

// Messages are written here, not taken from Ajv, so they read well and never quote a value.
function describe(error: ErrorObject): string {
  switch (error.keyword) {
    case "maxLength":
      return `Use at most ${String(error.params.limit)} characters.`;
    case "minLength":
      return `Use at least ${String(error.params.limit)} characters.`;
    case "pattern":
      return "This value does not have the expected format.";
    case "enum":
    case "const":
      return "Choose one of the listed values.";
    case "format":
      return `This is not a valid ${String(error.params.format)}.`;
    default:
      return `This value is not accepted (${error.message ?? error.keyword}).`;
  }
}

function pointerHead(instancePath: string): string | null {
  const segment = instancePath.split("/")[1];
  return segment === undefined ? null : segment.replaceAll("~1", "/").replaceAll("~0", "~");
}

// Walks the schema for "x-…" keywords and "format" values; stops at a generous depth.
function collectAnnotations(node: unknown, found: { keywords: Set<string>; formats: Set<string> }, depth = 0): void {
  if (depth > 32 || typeof node !== "object" || node === null) return;
  if (Array.isArray(node)) {
    for (const item of node) collectAnnotations(item, found, depth + 1);
    return;
  }
  for (const [key, value] of Object.entries(node)) {
    if (/^x-[A-Za-z0-9_$:-]*$/.test(key)) found.keywords.add(key);
    if (key === "format" && typeof value === "string") found.formats.add(value);
    collectAnnotations(value, found, depth + 1);
  }
}

function defaultSchema(profile: ProviderProfile): Record<string, unknown> {
  const names = strategyFields(profile.strategy);
  const username = profile.strategy.type === "basic_auth" ? profile.strategy.usernameField : null;
  const properties: Record<string, unknown> = {};
  for (const name of names) {
    const title = name.charAt(0).toUpperCase() + name.slice(1).replaceAll("_", " ");
    properties[name] = { type: "string", title, ...(name !== username && { writeOnly: true }) };
  }
  return { type: "object", properties, required: names };
}

function invalid(reason: string, cause?: unknown): InvalidArgumentError {
  return new InvalidArgumentError("credential_schema", reason, { cause });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
