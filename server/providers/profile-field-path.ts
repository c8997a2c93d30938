/**
 * Where a profile problem is reported: the `Problem` pair validation passes around, the first zod
 * issue as one, and the proto field path ("provider.strategy.query_param.param_name") of a domain path.
 */
import type { ZodError } from "zod";
import type { Strategy } from "../domain/strategy.ts";

/** A validation problem: the domain path of the field and the reason ("is required"). */
export type Problem = [path: (string | number)[], reason: string];

const STRATEGY_CONFIG: Record<Strategy["type"], string> = {
  oauth2: "",
  header: "header",
  query_param: "query_param",
  basic_auth: "basic_auth",
  hmac_payload: "hmac_payload",
  aws_sigv4: "aws_sigv4",
};

/** The first issue of a failed zod parse as a Problem (an unknown key is named in the path). */
export function firstIssue(error: ZodError): Problem {
  const issue = error.issues[0];
  if (issue === undefined) return [[], "is invalid"];
  const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
  if (issue.code === "unrecognized_keys") return [[...path, issue.keys[0] ?? ""], "is not a known field"];
  return [path, issue.message];
}

/**
 * The proto field path of a domain path: camelCase field names become snake_case, strategy fields
 * move under their oneof config ("strategy.query_param.param_name"), list indexes become "[n]", and
 * map keys and credential_schema internals are kept as written.
 */
export function fieldPath(prefix: string, path: readonly (string | number)[], strategyType?: Strategy["type"]): string {
  let out = prefix;
  path.forEach((segment, i) => {
    if (typeof segment === "number") {
      out += `[${segment}]`;
      return;
    }
    const isField =
      i === 0 ||
      (i === 1 && (path[0] === "oauth" || path[0] === "strategy" || path[0] === "accountLookup" || path[0] === "proxyTimeouts")) ||
      (i === 2 && path[0] === "connectionExtras");
    let name = isField ? segment.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) : segment;
    if (path[0] === "strategy" && i === 1 && segment !== "type" && strategyType !== undefined && strategyType !== "oauth2") {
      name = `${STRATEGY_CONFIG[strategyType]}.${name}`;
    }
    out += out === "" ? name : `.${name}`;
  });
  return out;
}

/** The strategy type of unvalidated input when it names a known one, for field paths of a failed parse. */
export function strategyTypeOf(input: unknown): Strategy["type"] | undefined {
  const strategy = (input as { strategy?: { type?: unknown } } | null)?.strategy;
  const type = strategy?.type;
  return typeof type === "string" && type in STRATEGY_CONFIG ? (type as Strategy["type"]) : undefined;
}
