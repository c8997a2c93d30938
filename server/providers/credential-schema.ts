/**
 * Checks the credential_schema of an api_key / basic_auth provider: a JSON Schema (draft 2020-12)
 * that Ajv compiles, of type object, whose properties are strings and include (and require) every
 * field the strategy reads — so the hosted form, key capture and GetToken agree on field names.
 * It never sees a credential value.
 */
import { createRequire } from "node:module";
import type { Ajv2020 } from "ajv/dist/2020.js";

/** A problem found in a credential schema: where (inside the schema) and why. */
export interface CredentialSchemaProblem {
  path: (string | number)[];
  reason: string;
}

/** Checks credential schemas; holds one Ajv instance. */
export interface CredentialSchemaChecker {
  /** The first problem of `schema` for a strategy reading `strategyFields`, or undefined. */
  check(schema: Record<string, unknown>, strategyFields: readonly string[]): CredentialSchemaProblem | undefined;
}

const MAX_SCHEMA_BYTES = 16 * 1024;
const PROPERTY_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

const requireCjs = createRequire(import.meta.url);

/** ajv's Ajv2020 class, loaded on first use. */
export function loadAjv2020(): typeof Ajv2020 {
  return (requireCjs("ajv/dist/2020.js") as typeof import("ajv/dist/2020.js")).Ajv2020;
}

/** Creates a checker. */
export function createCredentialSchemaChecker(): CredentialSchemaChecker {
  // strict: false keeps annotation keywords operators add for their forms (e.g. "x-order") legal;
  // the meta-schema still rejects malformed keywords. Formats such as "password" are UI hints only.
  // ajv is loaded at the first check, not at start-up (CommonJS, so a synchronous require).
  let loaded: Ajv2020 | undefined;
  const ajv = () => {
    loaded ??= new (loadAjv2020())({ strict: false, validateFormats: false, allErrors: false });
    return loaded;
  };
  return {
    check(schema, strategyFields) {
      if (JSON.stringify(schema).length > MAX_SCHEMA_BYTES) {
        return { path: [], reason: `must be at most ${MAX_SCHEMA_BYTES} bytes of JSON` };
      }
      if (schema.type !== "object") return { path: ["type"], reason: 'must be "object"' };
      try {
        ajv().compile(schema);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        return { path: [], reason: `is not a valid JSON Schema: ${message.slice(0, 200)}` };
      } finally {
        // compile() caches by schema object; drop it so a long-lived checker does not grow.
        ajv().removeSchema(schema);
      }
      const properties = schema.properties;
      if (!isObject(properties) || Object.keys(properties).length === 0) {
        return { path: ["properties"], reason: "must define at least one field" };
      }
      for (const [name, property] of Object.entries(properties)) {
        if (!PROPERTY_NAME.test(name)) {
          return { path: ["properties", name], reason: "field names must be letters, digits and '_' (1-64)" };
        }
        if (!isObject(property) || property.type !== "string") {
          return { path: ["properties", name, "type"], reason: 'must be "string" (the hosted form collects text)' };
        }
      }
      const requiredFields = Array.isArray(schema.required) ? schema.required : [];
      for (const field of strategyFields) {
        if (!(field in properties)) {
          return { path: ["properties"], reason: `must define "${field}", which the strategy reads` };
        }
        if (!requiredFields.includes(field)) {
          return { path: ["required"], reason: `must list "${field}", which the strategy reads` };
        }
      }
      return undefined;
    },
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
