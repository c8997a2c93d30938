/**
 * Reads a providers file (YAML, REST JSON field names) into the desired providers: each entry may
 * start from a catalog preset (`preset: google`) and override fields; the client secret comes from
 * `oauth.client_secret_env` (an environment variable) or, with a warning, `oauth.client_secret`.
 * Secret values are kept apart from the provider message and never appear in an error or warning.
 */
import { readFileSync } from "node:fs";
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { parse as parseYaml } from "yaml";
import { type Provider, ProviderSchema } from "../../gen/nexus/v1/providers_pb.ts";
import { fromRestJson } from "../rest/rest-json.ts";

/** One provider the file asks for. */
export interface DesiredProvider {
  /** Where it is in the file, for messages: `providers[0] (google)`. */
  label: string;
  /** The provider as written (preset merged in), without its client secret. */
  provider: Provider;
  /** The client secret, when the file gives one. */
  clientSecret?: string;
}

/** What reading the file produced. */
export interface ProvidersFile {
  providers: DesiredProvider[];
  /** Things worth telling the operator that do not stop the run (plaintext secrets). */
  warnings: string[];
}

/** A problem with the file: its message names the file and entry, never a secret. */
export class ProvidersFileError extends Error {
  override readonly name = "ProvidersFileError";
}

/**
 * Reads and checks a providers file. `presets` resolves `preset:` names to REST JSON catalog entries
 * (called only when an entry names a preset); `env` resolves `client_secret_env`.
 * @example
 * providers:
 *   - preset: google                      # name defaults to the preset's
 *     oauth:
 *       client_id: 123.apps.googleusercontent.com
 *       client_secret_env: GOOGLE_CLIENT_SECRET
 *   - name: internal-api
 *     auth_type: api_key
 *     credential_schema: { type: object, properties: { api_key: { type: string } }, required: [api_key] }
 *     strategy: { type: header, header: { header_name: X-Api-Key } }
 */
export async function readProvidersFile(
  path: string,
  deps: { env: Readonly<Record<string, string | undefined>>; presets: () => Promise<ReadonlyMap<string, JsonObject>> },
): Promise<ProvidersFile> {
  let document: unknown;
  try {
    document = parseYaml(readFileSync(path, "utf8"));
  } catch (err) {
    throw new ProvidersFileError(`${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (!isObject(document) || !Array.isArray(document.providers)) {
    throw new ProvidersFileError(`${path}: expected a top-level "providers:" list`);
  }
  const extra = Object.keys(document).filter((k) => k !== "providers");
  if (extra.length > 0) throw new ProvidersFileError(`${path}: unknown top-level key "${extra[0]}"`);

  const warnings: string[] = [];
  const providers: DesiredProvider[] = [];
  const seen = new Set<string>();
  for (const [index, entry] of (document.providers as unknown[]).entries()) {
    if (!isObject(entry)) throw new ProvidersFileError(`${path}: providers[${index}] must be a mapping`);
    const { preset, ...fields } = entry;
    const oauth = isObject(fields.oauth) ? { ...fields.oauth } : undefined;
    const { client_secret: plaintext, client_secret_env: envName } = oauth ?? {};
    if (oauth !== undefined) {
      delete oauth.client_secret;
      delete oauth.client_secret_env;
      fields.oauth = oauth as JsonValue;
    }
    let merged: JsonObject = fields as JsonObject;
    if (preset !== undefined) {
      if (typeof preset !== "string") throw new ProvidersFileError(`${path}: providers[${index}].preset must be a name`);
      const base = (await deps.presets()).get(preset.toLowerCase());
      if (base === undefined) throw new ProvidersFileError(`${path}: providers[${index}]: no catalog preset named "${preset}"`);
      merged = mergePreset(base, merged);
    }
    const name = typeof merged.name === "string" ? merged.name.toLowerCase() : "";
    const label = `providers[${index}]${name === "" ? "" : ` (${name})`}`;
    if (name === "") throw new ProvidersFileError(`${path}: ${label}: "name" is required (or a "preset" to take it from)`);
    if (seen.has(name)) throw new ProvidersFileError(`${path}: ${label}: the name "${name}" is used twice`);
    seen.add(name);

    let provider: Provider;
    try {
      provider = fromRestJson(ProviderSchema, { ...merged, name });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new ProvidersFileError(`${path}: ${label}: ${reason}`, { cause: err });
    }
    const clientSecret = readSecret(path, label, plaintext, envName, deps.env, warnings);
    providers.push(clientSecret === undefined ? { label, provider } : { label, provider, clientSecret });
  }
  return { providers, warnings };
}

function readSecret(
  path: string,
  label: string,
  plaintext: unknown,
  envName: unknown,
  env: Readonly<Record<string, string | undefined>>,
  warnings: string[],
): string | undefined {
  if (plaintext !== undefined && envName !== undefined) {
    throw new ProvidersFileError(`${path}: ${label}: give oauth.client_secret or oauth.client_secret_env, not both`);
  }
  if (envName !== undefined) {
    if (typeof envName !== "string" || envName === "")
      throw new ProvidersFileError(`${path}: ${label}: oauth.client_secret_env must name a variable`);
    const value = env[envName];
    if (value === undefined || value === "") throw new ProvidersFileError(`${path}: ${label}: environment variable ${envName} is not set`);
    return value;
  }
  if (plaintext !== undefined) {
    if (typeof plaintext !== "string" || plaintext === "")
      throw new ProvidersFileError(`${path}: ${label}: oauth.client_secret must be a non-empty string`);
    warnings.push(`${path}: ${label}: oauth.client_secret is written in plaintext; prefer oauth.client_secret_env`);
    return plaintext;
  }
  return undefined;
}

/**
 * Overrides a preset with an entry: mappings merge key by key (so `oauth.client_id` adds to the
 * preset's oauth), anything else replaces. `strategy` and `credential_schema` replace as a whole:
 * a strategy config of another type, or half of a JSON Schema, would make no sense merged.
 */
export function mergePreset(preset: JsonObject, entry: JsonObject): JsonObject {
  const out: JsonObject = { ...preset };
  for (const [key, value] of Object.entries(entry)) {
    const base = out[key];
    const isWhole = key === "strategy" || key === "credential_schema";
    out[key] = !isWhole && isObject(base) && isObject(value) ? mergePreset(base as JsonObject, value as JsonObject) : value;
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
