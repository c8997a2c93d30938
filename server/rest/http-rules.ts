/**
 * Reads the `(google.api.http)` option of every unary method of the given services, including
 * additional_bindings, and checks it against the request and response messages at start-up, so a
 * wrong annotation fails the boot with a message naming the method instead of failing a request.
 * It builds no messages and does no I/O.
 */

import type { DescField, DescMessage, DescMethod, DescMethodUnary, DescService } from "@bufbuild/protobuf";
import { getOption, hasOption } from "@bufbuild/protobuf";
import { http } from "../../gen/google/api/annotations_pb.ts";
import type { HttpRule } from "../../gen/google/api/http_pb.ts";
import { compilePathTemplate, type PathTemplate } from "./path-template.ts";

/** Where a route takes the request message from besides the path (the rule's `body`). */
export type RouteBody =
  /** No `body`: no request body allowed; fields not bound by the path come from the query. */
  | { readonly kind: "none" }
  /** `body: "*"`: the body is the request message; no query parameters. */
  | { readonly kind: "all" }
  /** `body: "<field>"`: the body is that top-level field; other fields come from the query. */
  | { readonly kind: "field"; readonly field: DescField };

/** One HTTP binding of one RPC method. */
export interface HttpRoute {
  readonly method: DescMethodUnary;
  /** Upper-case HTTP method ("GET", "POST", or a `custom` kind). */
  readonly httpMethod: string;
  readonly template: PathTemplate;
  /** For each path variable (by its dotted field path), the chain of fields it names. */
  readonly pathFields: ReadonlyMap<string, readonly DescField[]>;
  readonly body: RouteBody;
  /** The rule's `response_body`: the response field sent instead of the whole message. */
  readonly responseBodyField: DescField | undefined;
}

/** An http rule that cannot be served; thrown at start-up. */
export class InvalidHttpRuleError extends Error {
  override readonly name = "InvalidHttpRuleError";
  /** Fully qualified method name, e.g. "nexus.v1.TokenService.GetToken". */
  readonly methodName: string;
  constructor(method: DescMethod, reason: string, options?: { cause?: unknown }) {
    const methodName = `${method.parent.typeName}.${method.name}`;
    super(`google.api.http rule of ${methodName}: ${reason}`, options);
    this.methodName = methodName;
  }
}

/**
 * Reads and checks the http rules of the services' unary methods. Methods without a rule and
 * streaming methods (REST has no streaming mapping here) are skipped.
 *
 * The result is sorted most specific template first, so the first route whose template matches a
 * path is the best one (a literal segment beats a variable).
 * @throws InvalidHttpRuleError for a template that does not parse, a variable or body naming a
 *   field that does not exist or cannot be bound, or two rules with the same method and path.
 */
export function readHttpRules(services: readonly DescService[]): HttpRoute[] {
  const routes: HttpRoute[] = [];
  const seen = new Map<string, DescMethod>();
  for (const service of services) {
    for (const method of service.methods) {
      if (method.methodKind !== "unary" || !hasOption(method, http)) continue;
      const rule = getOption(method, http);
      const bindings = [rule, ...rule.additionalBindings];
      for (const [i, binding] of bindings.entries()) {
        if (i > 0 && binding.additionalBindings.length > 0) {
          throw new InvalidHttpRuleError(method, "additional_bindings must not nest");
        }
        // DescMethod is not a discriminated union: methodKind was checked above.
        const route = toRoute(method as DescMethodUnary, binding);
        const key = `${route.httpMethod} ${route.template.template}`;
        const previous = seen.get(key);
        if (previous !== undefined) {
          const other = `${previous.parent.typeName}.${previous.name}`;
          throw new InvalidHttpRuleError(method, `${key} is already bound to ${other}`);
        }
        seen.set(key, method);
        routes.push(route);
      }
    }
  }
  return routes.sort((a, b) => (a.template.rank < b.template.rank ? -1 : a.template.rank > b.template.rank ? 1 : 0));
}

function toRoute(method: DescMethodUnary, rule: HttpRule): HttpRoute {
  const { httpMethod, path } = patternOf(method, rule);
  let template: PathTemplate;
  try {
    template = compilePathTemplate(path);
  } catch (err) {
    throw new InvalidHttpRuleError(method, err instanceof Error ? err.message : String(err), { cause: err });
  }
  const pathFields = new Map<string, readonly DescField[]>();
  for (const variable of template.variables) {
    pathFields.set(variable.fieldPath, resolvePathField(method, variable.fieldPath));
  }
  return {
    method,
    httpMethod,
    template,
    pathFields,
    body: bodyOf(method, rule.body),
    responseBodyField: responseBodyOf(method, rule.responseBody),
  };
}

function patternOf(method: DescMethod, rule: HttpRule): { httpMethod: string; path: string } {
  switch (rule.pattern.case) {
    case "get":
    case "put":
    case "post":
    case "delete":
    case "patch":
      return { httpMethod: rule.pattern.case.toUpperCase(), path: rule.pattern.value };
    case "custom":
      if (!/^[A-Za-z]+$/.test(rule.pattern.value.kind)) {
        throw new InvalidHttpRuleError(method, `custom kind "${rule.pattern.value.kind}" is not an HTTP method`);
      }
      return { httpMethod: rule.pattern.value.kind.toUpperCase(), path: rule.pattern.value.path };
    case undefined:
      throw new InvalidHttpRuleError(method, "no pattern (get, put, post, delete, patch or custom)");
    default: {
      const unreachable: never = rule.pattern;
      return unreachable;
    }
  }
}

// http.proto: path variables "must not refer to any repeated or mapped field" and must end in a
// primitive; intermediate names must be singular message fields.
function resolvePathField(method: DescMethodUnary, fieldPath: string): DescField[] {
  const chain: DescField[] = [];
  let message: DescMessage | undefined = method.input;
  for (const name of fieldPath.split(".")) {
    const field: DescField | undefined = message?.fields.find((f) => f.name === name);
    if (message === undefined || field === undefined) {
      const reason = `path variable "${fieldPath}": no field "${name}" in ${method.input.typeName}`;
      throw new InvalidHttpRuleError(method, reason);
    }
    chain.push(field);
    message = field.fieldKind === "message" ? field.message : undefined;
  }
  const leaf = chain.at(-1);
  const intermediateOk = chain.slice(0, -1).every((f) => f.fieldKind === "message");
  if (leaf === undefined || !intermediateOk || (leaf.fieldKind !== "scalar" && leaf.fieldKind !== "enum")) {
    throw new InvalidHttpRuleError(
      method,
      `path variable "${fieldPath}" must name a singular scalar or enum field, through singular message fields`,
    );
  }
  return chain;
}

function bodyOf(method: DescMethodUnary, body: string): RouteBody {
  if (body === "") return { kind: "none" };
  if (body === "*") return { kind: "all" };
  // http.proto: "the referred field must be present at the top-level of the request message type".
  const field = method.input.fields.find((f) => f.name === body);
  if (field === undefined) {
    throw new InvalidHttpRuleError(method, `body "${body}" is not a top-level field of ${method.input.typeName}`);
  }
  return { kind: "field", field };
}

// Only singular message fields are supported as response_body: it is all Nexus uses, and it keeps
// the rendering of an unset field unambiguous ({}).
function responseBodyOf(method: DescMethodUnary, responseBody: string): DescField | undefined {
  if (responseBody === "") return undefined;
  const field = method.output.fields.find((f) => f.name === responseBody);
  if (field === undefined || field.fieldKind !== "message") {
    throw new InvalidHttpRuleError(
      method,
      `response_body "${responseBody}" must be a top-level singular message field of ${method.output.typeName}`,
    );
  }
  return field;
}
