/**
 * The header strategy: one credential field in one header, with an optional prefix. Defaults come
 * from credential.proto (HeaderStrategy): header Authorization, field api_key, no prefix.
 */
import { type AppliedParts, copyParts, credentialField, type StrategyApplier } from "./applier.ts";

/**
 * Applies a header credential.
 *
 * @example
 * // strategy { type: HEADER, header: { headerName: "X-Api-Key" } }, credentials { api_key: "k" }
 * applyHeader(parts, credential, env).headers.get("x-api-key"); // "k"
 */
export const applyHeader: StrategyApplier = (parts, credential): AppliedParts => {
  const config = credential.strategy?.config.case === "header" ? credential.strategy.config.value : undefined;
  const headerName = config?.headerName || "Authorization";
  const value = credentialField(credential, "header", config?.credentialField || "api_key");
  const applied = copyParts(parts);
  applied.headers.set(headerName, `${config?.valuePrefix ?? ""}${value}`);
  return applied;
};
