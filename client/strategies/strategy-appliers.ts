/**
 * The strategy table: StrategyType → applier, exhaustive over the six strategies of
 * credential.proto. Adding a strategy means one file and one row here.
 */
import { type Credential, StrategyType } from "../../gen/nexus/v1/credential_pb.ts";
import { StrategyError } from "../errors.ts";
import type { StrategyApplier } from "./applier.ts";
import { applyAwsSigV4 } from "./aws-sigv4.ts";
import { applyBasicAuth } from "./basic-auth.ts";
import { applyHeader } from "./header.ts";
import { applyHmacPayload } from "./hmac-payload.ts";
import { applyOAuth2 } from "./oauth2.ts";
import { applyQueryParam } from "./query-param.ts";

/** The strategy types a credential can carry (UNSPECIFIED is never sent). */
export type KnownStrategyType = Exclude<(typeof StrategyType)[keyof typeof StrategyType], typeof StrategyType.UNSPECIFIED>;

/**
 * Every strategy's applier, keyed by StrategyType.
 *
 * @example
 * const applied = await strategyAppliers[StrategyType.HEADER](parts, credential, { clock: systemClock });
 */
export const strategyAppliers: Readonly<Record<KnownStrategyType, StrategyApplier>> = {
  [StrategyType.OAUTH2]: applyOAuth2,
  [StrategyType.HEADER]: applyHeader,
  [StrategyType.QUERY_PARAM]: applyQueryParam,
  [StrategyType.BASIC_AUTH]: applyBasicAuth,
  [StrategyType.HMAC_PAYLOAD]: applyHmacPayload,
  [StrategyType.AWS_SIGV4]: applyAwsSigV4,
};

/** The applier for a credential's strategy; StrategyError when it has none or an unknown one. */
export function applierFor(credential: Credential): StrategyApplier {
  const type = credential.strategy?.type;
  if (type === undefined) throw new StrategyError("unspecified", "credential has no strategy");
  const applier = (strategyAppliers as Partial<Record<number, StrategyApplier>>)[type];
  if (!applier) throw new StrategyError(String(type), "unknown strategy type");
  return applier;
}
