/**
 * Fixtures of the access-control tests: two tenants with an active key-based connection each (a
 * sealed credential whose secret value the tests look for), and the seven callers of the matrix —
 * no key, an unknown key, an expired key, a revoked key, agents of tenant A and B, and an admin.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { credentialAad, encodeStoredSecret } from "../../server/domain/stored-secret.ts";
import type { TestServer } from "./start-server.ts";

export const TENANT_A = "tenant-a";
export const TENANT_B = "tenant-b";
/** The key-based provider every fixture connection uses. */
export const PROVIDER = "acme-key";

/** A caller of the matrix. */
export type CallerName = "none" | "bad" | "expired" | "revoked" | "agentA" | "agentB" | "admin" | "proxyOnlyA";
export const CALLERS: readonly CallerName[] = ["none", "bad", "expired", "revoked", "agentA", "agentB", "admin", "proxyOnlyA"];

/** Callers with their request headers (agent B uses x-api-key, the others Authorization). */
export interface Callers {
  headers(caller: CallerName): Record<string, string>;
  keyIds: Partial<Record<CallerName, string>>;
  secrets: string[];
}

/** Registers the provider (through the REST API, as an admin would). */
export async function createKeyProvider(server: TestServer, name = PROVIDER): Promise<void> {
  const res = await fetch(`${server.baseUrl}/v1/providers`, {
    method: "POST",
    headers: { "content-type": "application/json", ...server.auth(server.adminKey) },
    body: JSON.stringify({
      name,
      display_name: name,
      category: "test",
      auth_type: "api_key",
      credential_schema: {
        type: "object",
        properties: { api_key: { type: "string", title: "API key", format: "password", writeOnly: true } },
        required: ["api_key"],
      },
      strategy: { type: "header", header: { header_name: "X-Api-Key", credential_field: "api_key" } },
    }),
  });
  assert.equal(res.status, 200, await res.text());
}

/** An active connection of `tenantId` holding `apiKeyValue` as its credential. */
export async function seedConnection(server: TestServer, tenantId: string, apiKeyValue: string): Promise<string> {
  const { store, vault } = server.app;
  await store.ensureTenant({ id: tenantId });
  const connection = await store.createConnection({ tenantId, userId: "user-1", providerName: PROVIDER, status: "active" });
  await store.saveCredential(connection.id, 0, {
    secret: vault.seal(encodeStoredSecret({ kind: "fields", fields: { api_key: apiKeyValue } }), credentialAad(connection.id, 1)),
    expiresAtSeconds: null,
  });
  return connection.id;
}

/** A secret-looking value that tests search for in answers, logs and audit rows. */
export function secretValue(label: string): string {
  return `${label}-${randomBytes(16).toString("hex")}`;
}

/** Creates the seven callers' keys. */
export async function createCallers(server: TestServer): Promise<Callers> {
  const agentA = await server.createKey({ role: "agent", tenantId: TENANT_A, name: "agent A" });
  const agentB = await server.createKey({ role: "agent", tenantId: TENANT_B, name: "agent B" });
  const admin = await server.createKey({ role: "admin", name: "matrix admin" });
  // A proxy-only agent of tenant A: like agentA, except that it never receives a credential.
  const proxyOnlyA = await server.app.apiKeys.create({ role: "agent", tenantId: TENANT_A, name: "proxy-only A", proxyOnly: true });
  const expired = await server.createKey({ role: "agent", tenantId: TENANT_A, name: "expired", expiresAtMs: Date.now() - 1_000 });
  const revoked = await server.createKey({ role: "admin", name: "revoked" });
  await server.app.apiKeys.revoke(revoked.keyId);
  const bad = `nxk_${randomBytes(32).toString("base64url")}`;
  const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });
  const table: Record<CallerName, Record<string, string>> = {
    none: {},
    bad: bearer(bad),
    expired: bearer(expired.secret),
    revoked: bearer(revoked.secret),
    agentA: bearer(agentA.secret),
    agentB: { "x-api-key": agentB.secret },
    admin: bearer(admin.secret),
    proxyOnlyA: bearer(proxyOnlyA.secret),
  };
  return {
    headers: (caller) => ({ ...table[caller] }),
    keyIds: {
      agentA: agentA.keyId,
      agentB: agentB.keyId,
      admin: admin.keyId,
      expired: expired.keyId,
      revoked: revoked.keyId,
      proxyOnlyA: proxyOnlyA.record.id,
    },
    secrets: [agentA.secret, agentB.secret, admin.secret, expired.secret, revoked.secret, proxyOnlyA.secret, bad],
  };
}
