/**
 * How an agent applies a credential (protocol.md "Strategies"), as plain domain data with every
 * default filled in. `server/services/` converts to and from the proto Strategy message.
 */

/** The strategy types, as the REST contract spells them. */
export const STRATEGY_TYPES = ["oauth2", "header", "query_param", "basic_auth", "hmac_payload", "aws_sigv4"] as const;

/** One strategy type. */
export type StrategyType = (typeof STRATEGY_TYPES)[number];

/** A fully defaulted strategy. */
export type Strategy =
  | { type: "oauth2" }
  | { type: "header"; headerName: string; credentialField: string; valuePrefix: string }
  | { type: "query_param"; paramName: string; credentialField: string }
  | { type: "basic_auth"; usernameField: string; passwordField: string }
  | {
      type: "hmac_payload";
      headerName: string;
      secretField: string;
      algorithm: "sha256" | "sha1";
      encoding: "hex" | "base64";
    }
  | { type: "aws_sigv4"; service: string; region: string };

/** The credential fields a strategy reads, so key capture and GetToken agree on names. */
export function strategyFields(strategy: Strategy): string[] {
  switch (strategy.type) {
    case "oauth2":
      return ["access_token"];
    case "header":
    case "query_param":
      return [strategy.credentialField];
    case "basic_auth":
      return [strategy.usernameField, strategy.passwordField];
    case "hmac_payload":
      return [strategy.secretField];
    case "aws_sigv4":
      return ["access_key", "secret_key"];
    default: {
      const unreachable: never = strategy;
      return unreachable;
    }
  }
}
