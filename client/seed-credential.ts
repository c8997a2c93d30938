/**
 * The seed-shaped view of a credential: the JSON that `GET /v1/token/{id}` returns (proto field
 * names, enums as lower-case names without their prefix, int64 as numbers, defaults omitted), so
 * code written against the seed's SDK (`payload.strategy.type === "oauth2"`) works on the typed
 * Credential the client hands out. Built on protobuf-es toJson; only the profile's changes are here.
 */
import { type DescEnum, type JsonObject, type JsonValue, toJson } from "@bufbuild/protobuf";
import {
  type Credential,
  CredentialSchema,
  HmacAlgorithmSchema,
  HmacEncodingSchema,
  StrategyTypeSchema,
} from "../gen/nexus/v1/credential_pb.ts";

/** A strategy's type as the REST JSON and the seed spell it. */
export type SeedStrategyType = "oauth2" | "header" | "query_param" | "basic_auth" | "hmac_payload" | "aws_sigv4";

/** A credential's strategy in the seed's shape; absent keys are defaults. */
export interface SeedStrategy {
  type?: SeedStrategyType;
  header?: { header_name?: string; credential_field?: string; value_prefix?: string };
  query_param?: { param_name?: string; credential_field?: string };
  basic_auth?: { username_field?: string; password_field?: string };
  hmac_payload?: { header_name?: string; secret_field?: string; algorithm?: "sha256" | "sha1"; encoding?: "hex" | "base64" };
  aws_sigv4?: { service?: string; region?: string };
}

/** A credential in the seed's shape (the REST JSON of `GET /v1/token/{id}`); absent keys are defaults. */
export interface SeedCredential {
  strategy?: SeedStrategy;
  /** The fields to apply, e.g. `access_token`, `api_key`. Secret: never log them. */
  credentials?: { [field: string]: JsonValue };
  /** Unix seconds; absent for credentials that do not expire. */
  expires_at?: number;
  version?: number;
  connection_id?: string;
}

/**
 * The seed-shaped (REST JSON) view of a typed credential; the typed one stays the source of truth.
 *
 * @example
 * const credential = await client.getCredential(connectionId);
 * const seed = toSeedCredential(credential);
 * if (seed.strategy?.type === "oauth2") useBearer(String(seed.credentials?.access_token));
 */
export function toSeedCredential(credential: Credential): SeedCredential {
  const json = toJson(CredentialSchema, credential, { useProtoFieldName: true }) as JsonObject;
  const strategy = json.strategy as JsonObject | undefined;
  if (strategy) {
    renameEnum(strategy, "type", StrategyTypeSchema);
    const hmac = strategy.hmac_payload as JsonObject | undefined;
    if (hmac) {
      renameEnum(hmac, "algorithm", HmacAlgorithmSchema);
      renameEnum(hmac, "encoding", HmacEncodingSchema);
    }
  }
  // proto3 JSON writes int64 as strings; the REST profile (and the seed) use numbers. Unix seconds
  // and versions stay far below 2^53.
  for (const key of ["expires_at", "version"]) {
    if (typeof json[key] === "string") json[key] = Number(json[key]);
  }
  return json as SeedCredential;
}

// "STRATEGY_TYPE_AWS_SIGV4" → "aws_sigv4": buf lint makes every value carry the enum's prefix.
function renameEnum(object: JsonObject, key: string, descEnum: DescEnum): void {
  const value = object[key];
  if (typeof value !== "string") return; // unknown values are written as numbers: leave them
  const prefix = `${descEnum.name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()}_`;
  object[key] = (value.startsWith(prefix) ? value.slice(prefix.length) : value).toLowerCase();
}
