/**
 * The proxy with the real access rules (server/auth/proxy-access.ts, no override): a proxy-only
 * agent key with the rule `GET /repos/**` on one provider gets through for GET /repos/x, and is
 * refused (403 proxy_not_allowed, nothing sent) for POST /repos/x, for GET /user and for another
 * provider; it cannot read the token either. A rule-less agent key is refused unless its tenant
 * is opened (NEXUS_PROXY_OPEN_TENANTS).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { credentialAad, encodeStoredSecret } from "../server/domain/stored-secret.ts";
import { type ProxyUpstream, startProxyUpstream } from "./support/proxy-upstream.ts";
import { startServer, type TestServer } from "./support/start-server.ts";

interface ErrorBody {
  code: string;
  details: { debug: { reason: string } }[];
}

describe("proxy with per-key rules", () => {
  let server: TestServer;
  let upstream: ProxyUpstream;
  const token = `gh-${randomBytes(12).toString("hex")}`;
  const connections: Record<string, string> = {};
  let ruleKey = "";
  let ruleLessKey = "";
  let openTenantKey = "";

  async function adminPost(path: string, body: unknown): Promise<Record<string, unknown>> {
    const res = await fetch(`${server.baseUrl}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...server.auth(server.adminKey) },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    return JSON.parse(text) as Record<string, unknown>;
  }

  async function seed(tenantId: string, providerName: string): Promise<string> {
    const { store, vault } = server.app;
    await store.ensureTenant({ id: tenantId });
    const connection = await store.createConnection({ tenantId, userId: "u", providerName, status: "active" });
    await store.saveCredential(connection.id, 0, {
      secret: vault.seal(encodeStoredSecret({ kind: "fields", fields: { api_key: token } }), credentialAad(connection.id, 1)),
      expiresAtSeconds: null,
    });
    return connection.id;
  }

  const provider = (name: string) => ({
    name,
    auth_type: "api_key",
    credential_schema: { type: "object", properties: { api_key: { type: "string", title: "Key" } }, required: ["api_key"] },
    strategy: { type: "header", header: { header_name: "Authorization", value_prefix: "token " } },
    api_base_url: `${upstream.origin}/${name}`,
  });

  before(async () => {
    upstream = await startProxyUpstream();
    server = await startServer({ env: { NEXUS_PROXY_OPEN_TENANTS: "open-tenant" } });
    await adminPost("/v1/providers", provider("gh"));
    await adminPost("/v1/providers", provider("other"));
    connections.gh = await seed("agents", "gh");
    connections.other = await seed("agents", "other");
    connections.open = await seed("open-tenant", "gh");
    const created = await adminPost("/v1/api-keys", {
      name: "repo reader",
      role: "ROLE_AGENT",
      tenant_id: "agents",
      proxy_only: true,
      proxy_rules: [{ provider: "gh", methods: ["GET"], path: "/repos/**" }],
    });
    ruleKey = String(created.secret);
    ruleLessKey = String((await adminPost("/v1/api-keys", { name: "plain", role: "ROLE_AGENT", tenant_id: "agents" })).secret);
    openTenantKey = String((await adminPost("/v1/api-keys", { name: "open", role: "ROLE_AGENT", tenant_id: "open-tenant" })).secret);
  });
  after(async () => {
    await server?.close();
    await upstream?.close();
  });

  const call = (key: string, connection: string, path: string, method = "GET") =>
    fetch(`${server.baseUrl}/v1/proxy/${connection}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(method === "POST" ? { "content-type": "application/json" } : {}) },
      body: method === "POST" ? "{}" : undefined,
    });

  async function assertRefused(res: Response, what: string): Promise<void> {
    assert.equal(res.status, 403, what);
    const body = (await res.json()) as ErrorBody;
    assert.equal(body.code, "permission_denied", what);
    assert.equal(body.details[0]?.debug.reason, "proxy_not_allowed", what);
  }

  test("GET /repos/x passes; POST /repos/x, GET /user and another provider are refused before anything is sent", async () => {
    const ok = await call(ruleKey, connections.gh!, "/repos/x");
    const text = await ok.text();
    assert.equal(ok.status, 200, text);
    assert.ok(!text.includes(token));
    assert.equal(upstream.requests.at(-1)?.url, "/gh/repos/x");
    assert.equal(upstream.requests.at(-1)?.headers.authorization, `token ${token}`);
    const sent = upstream.requests.length;
    await assertRefused(await call(ruleKey, connections.gh!, "/repos/x", "POST"), "POST /repos/x");
    await assertRefused(await call(ruleKey, connections.gh!, "/user"), "GET /user");
    await assertRefused(await call(ruleKey, connections.other!, "/repos/x"), "another provider");
    assert.equal(upstream.requests.length, sent, "no refused call reached the provider");
    await server.app.audit.flush();
    const rows = (await server.app.store.listAuditEvents({ action: "proxy.call", connectionId: connections.gh }, { pageSize: 100 })).items;
    assert.ok(
      rows.some((r) => r.result === "200" && r.details?.rule === "GET /repos/**"),
      JSON.stringify(rows),
    );
    assert.ok(rows.some((r) => r.result === "403"));
  });

  test("the proxy-only key cannot read the token; a rule-less key is refused unless its tenant is opened", async () => {
    const get = await fetch(`${server.baseUrl}/v1/token/${connections.gh}`, { headers: { authorization: `Bearer ${ruleKey}` } });
    assert.equal(get.status, 403);
    assert.ok(!(await get.text()).includes(token));
    await assertRefused(await call(ruleLessKey, connections.gh!, "/repos/x"), "rule-less key, closed tenant");
    const open = await call(openTenantKey, connections.open!, "/anything");
    assert.equal(open.status, 200, await open.text());
  });
});
