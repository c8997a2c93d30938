/**
 * The proxy's connect and total timeouts, end to end (first-byte and idle are in proxy.test.ts).
 * Connect: an https provider that accepts the TCP connection and then never answers the TLS
 * ClientHello, so the connection is never established (undici's connect timeout covers the TLS
 * handshake; a kernel-level SYN drop is not reproducible on every machine). Total: a provider that keeps
 * sending a byte well within the idle timeout, forever, and one that never answers while the
 * first-byte timeout is long: only the total timeout can end either call.
 */
import assert from "node:assert/strict";
import { request } from "node:http";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { credentialAad, encodeStoredSecret } from "../server/domain/stored-secret.ts";
import { type ProxyUpstream, startProxyUpstream } from "./support/proxy-upstream.ts";
import { startServer, TEST_TENANT, type TestServer } from "./support/start-server.ts";
import { eventualValue } from "./support/wait.ts";

interface ErrorBody {
  code: string;
  message: string;
  details: { debug: { reason: string } }[];
}

describe("proxy timeouts: connect and total", () => {
  let server: TestServer;
  let upstream: ProxyUpstream;
  let silent: Server;
  const held = new Set<Socket>();
  const connections: Record<string, string> = {};
  const pumps = new Set<NodeJS.Timeout>();

  async function provider(name: string, base: string, timeouts: Record<string, number>): Promise<void> {
    const res = await fetch(`${server.baseUrl}/v1/providers`, {
      method: "POST",
      headers: { "content-type": "application/json", ...server.auth(server.adminKey) },
      body: JSON.stringify({
        name,
        auth_type: "api_key",
        credential_schema: { type: "object", properties: { api_key: { type: "string", title: "Key" } }, required: ["api_key"] },
        strategy: { type: "header", header: { header_name: "X-Api-Key" } },
        api_base_url: base,
        proxy_timeouts: timeouts,
      }),
    });
    assert.equal(res.status, 200, await res.text());
    const { store, vault } = server.app;
    const connection = await store.createConnection({ tenantId: TEST_TENANT, userId: "u", providerName: name, status: "active" });
    await store.saveCredential(connection.id, 0, {
      secret: vault.seal(encodeStoredSecret({ kind: "fields", fields: { api_key: "timeout-key" } }), credentialAad(connection.id, 1)),
      expiresAtSeconds: null,
    });
    connections[name] = connection.id;
  }

  async function auditRow(connectionId: string): Promise<Record<string, string>> {
    const rows = await eventualValue(
      async () => {
        await server.app.audit.flush();
        return (await server.app.store.listAuditEvents({ action: "proxy.call", connectionId }, { pageSize: 10 })).items;
      },
      (found) => found.length > 0,
    );
    return rows[0]?.details ?? {};
  }

  before(async () => {
    silent = createServer((socket) => {
      held.add(socket);
      socket.on("close", () => held.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as AddressInfo).port;

    upstream = await startProxyUpstream();
    upstream.respond = (req, res) => {
      if (req.url?.startsWith("/trickle/")) {
        res.writeHead(200, { "content-type": "text/plain" });
        const pump = setInterval(() => res.write("."), 20);
        pumps.add(pump);
        res.on("close", () => {
          clearInterval(pump);
          pumps.delete(pump);
        });
        return;
      }
      // "/silent/": never answers.
    };
    server = await startServer({ env: { NEXUS_PROXY_OPEN_TENANTS: TEST_TENANT } });
    await provider("to-connect", `https://127.0.0.1:${port}/api`, { connect_ms: 300 });
    await provider("to-total-headers", `${upstream.origin}/silent`, { total_ms: 300 });
    await provider("to-total-body", `${upstream.origin}/trickle`, { total_ms: 400, idle_ms: 10_000 });
  });

  after(async () => {
    for (const pump of pumps) clearInterval(pump);
    for (const socket of held) socket.destroy();
    await new Promise<void>((resolve) => (silent ? silent.close(() => resolve()) : resolve()));
    await server?.close();
    await upstream?.close();
  });

  test("a provider that never completes the TLS handshake: 504 proxy_upstream_timeout once connect_ms has passed", async () => {
    const started = performance.now();
    const res = await fetch(`${server.baseUrl}/v1/proxy/${connections["to-connect"]}/x`, { headers: server.auth() });
    const body = (await res.json()) as ErrorBody;
    assert.equal(res.status, 504, JSON.stringify(body));
    assert.equal(body.details[0]?.debug.reason, "proxy_upstream_timeout");
    assert.match(body.message, /connect/);
    assert.ok(performance.now() - started < 5_000, "ended by connect_ms, not by a later timeout");
    assert.equal((await auditRow(connections["to-connect"]!)).reason, "proxy_upstream_timeout");
  });

  test("a provider that never answers while first_byte_ms is long: 504 once total_ms has passed", async () => {
    const started = performance.now();
    const res = await fetch(`${server.baseUrl}/v1/proxy/${connections["to-total-headers"]}/x`, { headers: server.auth() });
    const body = (await res.json()) as ErrorBody;
    assert.equal(res.status, 504, JSON.stringify(body));
    assert.equal(body.details[0]?.debug.reason, "proxy_upstream_timeout");
    assert.match(body.message, /total timeout/);
    assert.ok(performance.now() - started < 5_000, "ended by total_ms, not by the 60 s first-byte default");
  });

  test("a provider that trickles forever within idle_ms is cut off at total_ms; audited as an aborted timeout", async () => {
    const res = await fetch(`${server.baseUrl}/v1/proxy/${connections["to-total-body"]}/x`, { headers: server.auth() });
    assert.equal(res.status, 200);
    await assert.rejects(res.text());
    const details = await auditRow(connections["to-total-body"]!);
    assert.equal(details.aborted, "true", JSON.stringify(details));
    assert.equal(details.reason, "upstream_timeout", JSON.stringify(details));
  });

  test("a caller that declares a small body and stalls mid-way is answered 504 at total_ms, not held open", async () => {
    const before = upstream.requests.length;
    const base = new URL(server.baseUrl);
    const [status, text] = await new Promise<[number, string]>((resolve, reject) => {
      const req = request(
        {
          host: base.hostname,
          port: base.port,
          method: "POST",
          path: `/v1/proxy/${connections["to-total-headers"]}/upload`,
          headers: { ...server.auth(), "content-type": "application/json", "content-length": "100" },
          agent: false,
        },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => {
            body += chunk;
          });
          res.on("end", () => resolve([res.statusCode ?? 0, body]));
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.write("{");
    });
    assert.equal(status, 504, text);
    assert.equal((JSON.parse(text) as ErrorBody).details[0]?.debug.reason, "proxy_upstream_timeout");
    assert.equal(upstream.requests.length, before, "nothing was sent");
  });
});
