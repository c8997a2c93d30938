/**
 * The URL-parameter rule of provider profiles, in one place: where each `{param}` placeholder of an
 * endpoint template sits (whole host, DNS label, path, query), who may set it, and how it is filled.
 * An operator-set parameter (operator_params: Okta domain, Keycloak host) may sit anywhere a checked
 * value fits; a connection-set one (url_params: Shopify shop) may only fill one DNS label under a
 * fixed registrable domain, so no caller can choose the host that receives the client secret.
 */
import { createRequire } from "node:module";
import type * as Tldts from "tldts";
import type { ProviderProfile } from "./profile.ts";

// The public-suffix list (tldts, with its large suffix trie) is loaded by the first check that
// needs it, not at start-up (cold start); CommonJS, so a synchronous require.
const requireCjs = createRequire(import.meta.url);
let tldts: typeof Tldts | undefined;
const publicSuffixes = (): typeof Tldts => {
  tldts ??= requireCjs("tldts") as typeof Tldts;
  return tldts;
};

/** Who sets a URL parameter: the operator in the provider's config, or each connection's params. */
export type UrlParamSetter = "operator" | "connection";

/** Where a placeholder sits in its URL. */
export type PlaceholderSlot =
  /** The whole host, e.g. `https://{domain}/…` (an operator value may add a port). */
  | { kind: "host" }
  /** One whole DNS label; `suffix` is the labels to its right, `isSuffixFixed` false when one is a placeholder. */
  | { kind: "label"; suffix: string; isSuffixFixed: boolean }
  /** Inside one path segment. */
  | { kind: "path" }
  /** Inside the query. */
  | { kind: "query" };

/** One placeholder occurrence of a template, in order of appearance. */
export interface TemplatePlaceholder {
  name: string;
  slot: PlaceholderSlot;
}

/** The values a template is filled from: the operator's (profile) and the connection's (request). */
export interface UrlParamValues {
  operator: Readonly<Record<string, string>>;
  connection: Readonly<Record<string, string>>;
}

/**
 * A value a connection may give: one lower-case DNS label (RFC 1035 §2.3.1, LDH), 1-63 characters.
 * No dot, so it can't add a label; nothing else, so no port, userinfo, path or percent-escape.
 */
export const CONNECTION_LABEL_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const DNS_NAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
const HOST_AND_PORT = new RegExp(`^(?:${LABEL}(?:\\.${LABEL})*|\\[[0-9a-f:.]+\\])(?::(\\d{1,5}))?$`);
const PATH_VALUE = /^[A-Za-z0-9._~-]{1,255}$/;
const PLACEHOLDER = /\{([^{}]*)\}/g;
const SENTINEL = (i: number) => `zzurlparam${i}zz`;

/** A template whose placeholders sit where no value may go, or a placeholder a connection may not fill. */
export class UrlTemplateError extends Error {
  override readonly name = "UrlTemplateError";
}

/** A placeholder with no value (an operator value not configured yet, or a missing connection param). */
export class MissingEndpointParamError extends Error {
  override readonly name = "MissingEndpointParamError";
  readonly param: string;
  constructor(param: string, setter: UrlParamSetter | undefined) {
    const where = setter === "operator" ? "operator_params has no value for it" : "the connection has no value for it";
    super(`endpoint placeholder {${param.slice(0, 64)}} cannot be filled: ${where}`);
    this.param = param;
  }
}

/** The names of the `{param}` placeholders in a template, in order of appearance. */
export function templateParamNames(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1] ?? "");
}

/**
 * Where each placeholder of `template` sits, or a problem (a placeholder in the scheme, userinfo or
 * port, inside part of a DNS label, or one that URL normalisation drops, as `/{a}/../`).
 */
export function analyzeUrlTemplate(template: string): TemplatePlaceholder[] | { problem: string } {
  const names = templateParamNames(template);
  let index = 0;
  const concrete = template.replace(PLACEHOLDER, () => SENTINEL(index++));
  const url = URL.parse(concrete);
  if (url === null) return { problem: "must be an absolute URL (a placeholder can't be the scheme or the port)" };
  const labels = url.hostname.split(".");
  const placeholders: TemplatePlaceholder[] = [];
  for (const [i, name] of names.entries()) {
    const s = SENTINEL(i);
    const where = `{${name}}`;
    if ((url.protocol + url.username + url.password + url.port).includes(s)) {
      return { problem: `places ${where} in the scheme, user info or port` };
    }
    const labelIndex = labels.findIndex((label) => label.includes(s));
    if (labelIndex >= 0) {
      if (labels[labelIndex] !== s) return { problem: `places ${where} inside part of a DNS label: it must fill a whole label` };
      const right = labels.slice(labelIndex + 1);
      placeholders.push({
        name,
        slot:
          labels.length === 1
            ? { kind: "host" }
            : { kind: "label", suffix: right.join("."), isSuffixFixed: !right.some((l) => l.includes("zzurlparam")) },
      });
    } else if (url.pathname.includes(s)) {
      placeholders.push({ name, slot: { kind: "path" } });
    } else if (url.search.includes(s)) {
      placeholders.push({ name, slot: { kind: "query" } });
    } else {
      return { problem: `places ${where} where no value may go (only the host, the path or the query)` };
    }
  }
  return placeholders;
}

/**
 * Public Suffix List private-section suffixes (domains whose subdomains their owner hands to many
 * customers) that a connection label may still sit under: each is the provider's own multi-tenant
 * domain, used by a catalog preset, where every subdomain is one of that provider's tenants. Anything
 * else under a private suffix (herokuapp.com, github.io, vercel.app, s3.amazonaws.com…) is a host
 * anyone can own, so an agent could name its own host there.
 */
const PROVIDER_TENANT_SUFFIXES: ReadonlySet<string> = new Set(["myshopify.com"]);

/**
 * Why a connection may not fill `slot`, or undefined: only a whole DNS label whose labels to the
 * right are fixed by the template and hold a registrable domain (not a public suffix like `com` or
 * `co.uk`, per the Public Suffix List's ICANN section), so the host stays under the profile's domain;
 * and not under a private-section suffix (free hosting, tunnels) unless PROVIDER_TENANT_SUFFIXES
 * vouches for it.
 */
export function connectionSlotProblem(name: string, slot: PlaceholderSlot): string | undefined {
  const fix = `; list it in operator_params to fix its value in the provider's configuration`;
  if (slot.kind !== "label") {
    const what = slot.kind === "host" ? "the whole host" : `the ${slot.kind}`;
    return `lets each connection set {${name}} as ${what}: a connection-set parameter may only fill one DNS label under a fixed domain (https://{${name}}.example.com)${fix}`;
  }
  if (
    !slot.isSuffixFixed ||
    publicSuffixes().getDomain(slot.suffix, { allowPrivateDomains: false }) === null ||
    slot.suffix.endsWith(".")
  ) {
    return `lets each connection set {${name}} under "${slot.suffix}", which is not a fixed registrable domain (a public suffix or another placeholder)${fix}`;
  }
  const shared = publicSuffixes().parse(slot.suffix, { allowPrivateDomains: true });
  if (shared.isPrivate === true && !PROVIDER_TENANT_SUFFIXES.has(shared.publicSuffix ?? "")) {
    return `lets each connection set {${name}} under "${slot.suffix}", which sits under "${shared.publicSuffix}", a shared domain where anyone can own a host (Public Suffix List, private section)${fix}`;
  }
  return undefined;
}

/** Why an operator value does not fit `slot`, or undefined. */
export function operatorValueProblem(value: string, slot: PlaceholderSlot): string | undefined {
  switch (slot.kind) {
    case "host": {
      const match = HOST_AND_PORT.exec(value);
      if (match === null || value.length > 260)
        return "must be a lower-case host name or IP address with an optional port (no scheme, path or user info)";
      if (match[1] !== undefined && (Number(match[1]) < 1 || Number(match[1]) > 65535)) return "has a port outside 1-65535";
      return undefined;
    }
    case "label":
      if (!DNS_NAME.test(value) || value.length > 253) return "must be lower-case DNS labels separated by dots (no scheme, port or path)";
      return undefined;
    case "path":
      if (!PATH_VALUE.test(value) || /^\.+$/.test(value)) return "must be 1-255 letters, digits, '-', '.', '_' or '~' (and not only dots)";
      return undefined;
    case "query":
      if (value.length === 0 || value.length > 1024 || /\p{Cc}/u.test(value)) return "must be 1-1024 characters without control characters";
      return undefined;
    default: {
      const unreachable: never = slot;
      return unreachable;
    }
  }
}

/** The values a profile's templates are filled from, for one connection's params. */
export function urlParamValues(
  profile: Pick<ProviderProfile, "urlParams" | "operatorParams">,
  connectionParams: Readonly<Record<string, string>>,
): UrlParamValues {
  const connection: Record<string, string> = {};
  for (const name of profile.urlParams) {
    if (Object.hasOwn(connectionParams, name)) connection[name] = connectionParams[name] ?? "";
  }
  return { operator: profile.operatorParams ?? {}, connection };
}

/**
 * Fills a template. An operator value wins over a connection value of the same name; each value is
 * checked against its slot again here (a stored profile may predate the rule), and a connection
 * value must be a DNS label in a slot a connection may fill.
 * @throws UrlTemplateError, MissingEndpointParamError
 */
export function fillUrlTemplate(template: string, values: UrlParamValues): string {
  const analyzed = analyzeUrlTemplate(template);
  if (!Array.isArray(analyzed)) throw new UrlTemplateError(`endpoint template ${analyzed.problem}`);
  const filled: string[] = [];
  for (const { name, slot } of analyzed) {
    let value: string;
    if (Object.hasOwn(values.operator, name)) {
      value = values.operator[name] ?? "";
      if (value === "") throw new MissingEndpointParamError(name, "operator");
      const problem = operatorValueProblem(value, slot);
      if (problem !== undefined) throw new UrlTemplateError(`operator_params.${name} ${problem}`);
    } else if (Object.hasOwn(values.connection, name)) {
      const problem = connectionSlotProblem(name, slot);
      if (problem !== undefined) throw new UrlTemplateError(`the profile ${problem}`);
      value = values.connection[name] ?? "";
      if (!CONNECTION_LABEL_PATTERN.test(value)) throw new UrlTemplateError(`the connection's {${name.slice(0, 64)}} is not a DNS label`);
    } else {
      throw new MissingEndpointParamError(name, undefined);
    }
    filled.push(slot.kind === "path" || slot.kind === "query" ? encodeURIComponent(value) : value);
  }
  let index = 0;
  const result = template.replace(PLACEHOLDER, () => filled[index++] ?? "");
  // Belt and braces: whatever was filled in, each connection label must still sit under its suffix.
  const host = URL.parse(result)?.hostname;
  for (const { name, slot } of analyzed) {
    if (slot.kind === "label" && !Object.hasOwn(values.operator, name) && !host?.endsWith(`.${slot.suffix}`)) {
      throw new UrlTemplateError(`the filled endpoint left the fixed domain "${slot.suffix}"`);
    }
  }
  return result;
}
