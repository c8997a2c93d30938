/**
 * `nexus keys create`: creates an API key (through the server, or with --direct in the database)
 * and prints its secret once (only its hash is stored). An agent key for a tenant that does not
 * exist yet creates the tenant.
 */
import { formatProxyRule, type ProxyRule } from "../domain/proxy-rule.ts";
import type { ApiKeyRole } from "../store/store.ts";
import type { KeyAdmin } from "./key-admin.ts";
import type { CommandIo } from "./providers-plan.ts";

/** Options of `keysCreate`. */
export interface KeysCreateOptions {
  role: ApiKeyRole;
  name: string;
  tenantId?: string;
  expiresAtMs?: number;
  /** Proxy allow rules (agent keys). */
  proxyRules?: readonly ProxyRule[];
  /** The key never receives a credential. */
  proxyOnly?: boolean;
  json: boolean;
}

/** Creates the key and prints it; returns the exit code. */
export async function keysCreate(keys: KeyAdmin, options: KeysCreateOptions, io: CommandIo): Promise<number> {
  const { record, secret } = await keys.create({
    name: options.name,
    role: options.role,
    tenantId: options.tenantId,
    expiresAtMs: options.expiresAtMs ?? null,
    proxyRules: options.proxyRules ?? [],
    proxyOnly: options.proxyOnly ?? false,
  });
  const expires = record.expiresAtMs === null ? "never" : new Date(record.expiresAtMs).toISOString();
  if (options.json) {
    io.stdout.write(
      `${JSON.stringify({ key_id: record.id, prefix: record.prefix, role: record.role, tenant_id: record.tenantId, name: record.name, expire_time: record.expiresAtMs === null ? null : expires, proxy_rules: record.proxyRules.map(formatProxyRule), proxy_only: record.proxyOnly, secret })}\n`,
    );
    return 0;
  }
  io.stdout.write(
    `created ${record.role} key ${record.id} (${record.prefix}…)` +
      `${record.tenantId === null ? "" : ` for tenant ${record.tenantId}`}, expires ${expires}\n` +
      (record.proxyOnly ? "proxy-only: it never receives a credential\n" : "") +
      record.proxyRules.map((rule) => `proxy rule: ${formatProxyRule(rule)}\n`).join("") +
      `secret (shown once, store it now; send it as "Authorization: Bearer <secret>"):\n\n  ${secret}\n\n`,
  );
  return 0;
}

/**
 * Parses an expiry: a duration from now (`30d`, `12h`, `45m`) or an ISO 8601 date-time.
 * Returns epoch ms, or undefined when the text is neither.
 */
export function parseExpiry(text: string, nowMs: number): number | undefined {
  const relative = /^(\d{1,6})([dhm])$/.exec(text);
  if (relative !== null) {
    const unitMs = { d: 86_400_000, h: 3_600_000, m: 60_000 }[relative[2] as "d" | "h" | "m"];
    return nowMs + Number(relative[1]) * unitMs;
  }
  const absolute = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(absolute) ? undefined : absolute;
}
