/**
 * `nexus keys list`: every API key (never a secret or hash), newest first, as a table or JSON
 * lines; from the server, or with --direct from the database. TOKENS says whether the key may
 * receive credentials ("no (proxy-only)"); PROXY RULES lists its rules in the text form.
 */
import { formatProxyRule } from "../domain/proxy-rule.ts";
import type { KeyAdmin } from "./key-admin.ts";
import type { CommandIo } from "./providers-plan.ts";

/** Lists keys; returns the exit code. */
export async function keysList(
  keys: KeyAdmin,
  options: { tenantId?: string; json: boolean; nowMs: number },
  io: CommandIo,
): Promise<number> {
  const all = await keys.listAll({ tenantId: options.tenantId });
  if (options.json) {
    for (const k of all) {
      io.stdout.write(
        `${JSON.stringify({ key_id: k.id, prefix: k.prefix, name: k.name, role: k.role, tenant_id: k.tenantId, create_time: iso(k.createdAtMs), expire_time: iso(k.expiresAtMs), revoke_time: iso(k.revokedAtMs), last_used_time: iso(k.lastUsedAtMs), proxy_only: k.proxyOnly, proxy_rules: k.proxyRules.map(formatProxyRule) })}\n`,
      );
    }
    return 0;
  }
  const rows = [
    ["KEY ID", "PREFIX", "ROLE", "TENANT", "NAME", "CREATED", "EXPIRES", "STATE", "LAST USED", "TOKENS", "PROXY RULES"],
    ...all.map((k) => [
      k.id,
      k.prefix,
      k.role,
      k.tenantId ?? "*",
      k.name,
      iso(k.createdAtMs) ?? "",
      iso(k.expiresAtMs) ?? "never",
      k.revokedAtMs !== null ? "revoked" : k.expiresAtMs !== null && k.expiresAtMs <= options.nowMs ? "expired" : "active",
      iso(k.lastUsedAtMs) ?? "never",
      k.proxyOnly ? "no (proxy-only)" : "yes",
      k.proxyRules.length === 0 ? "-" : k.proxyRules.map(formatProxyRule).join(" "),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  for (const row of rows)
    io.stdout.write(
      `${row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd()}\n`,
    );
  return 0;
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}
