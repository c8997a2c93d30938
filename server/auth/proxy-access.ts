/**
 * Who may send which call through the credential proxy (`/v1/proxy/{connection_id}/{path…}`): the
 * one decision, made after the caller is authenticated and the connection is found in the caller's
 * tenant (that scoping is tenant-scope.ts's, not this file's). The rule language is in
 * server/domain/proxy-rule.ts.
 *
 * | caller                          | decision                                                      |
 * |---------------------------------|---------------------------------------------------------------|
 * | admin key                       | allowed, matched "admin" (it may read every token anyway)     |
 * | agent key with proxy rules      | allowed iff a rule of the call's provider matches method+path |
 * | agent key without rules         | allowed iff its tenant is opened by the operator              |
 * |                                 | (NEXUS_PROXY_OPEN_TENANTS, "*" = every tenant), "tenant-open" |
 *
 * A key that has rules is held to them even when its tenant is open: rules only ever narrow. A key
 * with rules for one provider may not call another provider at all.
 */
import { describeProxyRule, proxyRuleMatches } from "../domain/proxy-rule.ts";
import type { Principal } from "../request/principal.ts";

/** One call through the proxy, as the proxy route sees it before forwarding. */
export interface ProxyCall {
  /** The connection's provider name, e.g. "github". */
  readonly provider: string;
  /** The HTTP method (compared upper case). */
  readonly method: string;
  /**
   * The path appended to the provider's API base URL, already normalised (starts with "/", no
   * query, no dot segments), still percent-encoded as it will be sent: the matcher splits it on "/"
   * and decodes each segment itself; a segment that does not decode is refused.
   */
  readonly path: string;
}

/** The answer: allowed with the rule that allowed it, or refused with an ErrorReason name. */
export type ProxyDecision = { readonly allowed: true; readonly matched: string } | { readonly allowed: false; readonly reason: string };

/** Decides proxy calls. */
export interface ProxyAccess {
  decide(principal: Principal, call: ProxyCall): ProxyDecision;
}

/** The `matched` of an admin key's call. */
export const MATCHED_ADMIN = "admin";
/** The `matched` of a rule-less agent key's call in an opened tenant. */
export const MATCHED_TENANT_OPEN = "tenant-open";
/** The reason of a refused call (PermissionDenied). */
export const PROXY_NOT_ALLOWED = "PROXY_NOT_ALLOWED";

/** Creates the decision; `openTenants` are the tenants whose rule-less agent keys may use the proxy ("*": all). */
export function createProxyAccess(options: { openTenants: readonly string[] }): ProxyAccess {
  const everyTenant = options.openTenants.includes("*");
  const open = new Set(options.openTenants);
  return {
    decide(principal, call) {
      if (principal.role === "admin") return { allowed: true, matched: MATCHED_ADMIN };
      if (principal.proxyRules.length === 0) {
        const tenantOpen = principal.tenantId !== null && (everyTenant || open.has(principal.tenantId));
        return tenantOpen ? { allowed: true, matched: MATCHED_TENANT_OPEN } : { allowed: false, reason: PROXY_NOT_ALLOWED };
      }
      for (const rule of principal.proxyRules) {
        if (rule.provider === call.provider && proxyRuleMatches(rule, call.method, call.path)) {
          return { allowed: true, matched: describeProxyRule(rule) };
        }
      }
      return { allowed: false, reason: PROXY_NOT_ALLOWED };
    },
  };
}
