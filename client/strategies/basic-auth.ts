/**
 * The basic_auth strategy: `Authorization: Basic base64(user:password)` over UTF-8 (RFC 7617 §2,
 * charset UTF-8). Defaults from BasicAuthStrategy: fields username and password.
 * @see https://www.rfc-editor.org/rfc/rfc7617#section-2
 */
import { StrategyError } from "../errors.ts";
import { type AppliedParts, copyParts, credentialField, type StrategyApplier } from "./applier.ts";

/**
 * Applies a basic_auth credential.
 *
 * @example
 * applyBasicAuth(parts, credential, env).headers.get("authorization"); // "Basic dXNlcjpwYXNz"
 */
export const applyBasicAuth: StrategyApplier = (parts, credential): AppliedParts => {
  const config = credential.strategy?.config.case === "basicAuth" ? credential.strategy.config.value : undefined;
  const username = credentialField(credential, "basic_auth", config?.usernameField || "username");
  const password = credentialField(credential, "basic_auth", config?.passwordField || "password");
  // RFC 7617 §2: the user-id may not contain a colon; the password may.
  if (username.includes(":")) throw new StrategyError("basic_auth", "user name contains a colon", config?.usernameField || "username");
  const applied = copyParts(parts);
  applied.headers.set("authorization", `Basic ${Buffer.from(`${username}:${password}`, "utf8").toString("base64")}`);
  return applied;
};
