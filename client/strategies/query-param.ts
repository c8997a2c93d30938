/**
 * The query_param strategy: one credential field as a query-string parameter (replacing any
 * parameter of that name). RPC metadata has no query string, so it refuses that target.
 */
import { StrategyError } from "../errors.ts";
import { type AppliedParts, copyParts, credentialField, type StrategyApplier } from "./applier.ts";

/**
 * Applies a query_param credential.
 *
 * @example
 * // strategy { type: QUERY_PARAM, queryParam: { paramName: "key" } }
 * applyQueryParam(parts, credential, env).url.searchParams.get("key");
 */
export const applyQueryParam: StrategyApplier = (parts, credential): AppliedParts => {
  const config = credential.strategy?.config.case === "queryParam" ? credential.strategy.config.value : undefined;
  const paramName = config?.paramName;
  if (!paramName) throw new StrategyError("query_param", "strategy has no param_name", "param_name");
  if (parts.target === "metadata") {
    throw new StrategyError("query_param", "a query parameter cannot be carried in RPC metadata");
  }
  const value = credentialField(credential, "query_param", config?.credentialField || "api_key");
  const applied = copyParts(parts);
  applied.url.searchParams.set(paramName, value);
  return applied;
};
