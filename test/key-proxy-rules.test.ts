/**
 * Least privilege for agent keys (issue 15, item 5), end to end on one server: proxy rules and the
 * proxy-only flag set at creation over every protocol (REST, Connect, gRPC), normalised and shown in
 * listings and the audit row; bad rules refused with the same answer everywhere and nothing stored;
 * a proxy-only key refused every RPC that returns a credential (GetToken, RefreshConnection,
 * WatchCredentials on Connect, gRPC and gRPC-Web) with TOKEN_ACCESS_DISABLED, while its other
 * calls still work, and never shown the connection's secret.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { ErrorInfoSchema, ErrorReason } from "../gen/nexus/v1/errors_pb.ts";
import { TokenService } from "../gen/nexus/v1/tokens_pb.ts";
import { createKeyProvider, PROVIDER, secretValue, seedConnection } from "./support/access-fixtures.ts";
import { type CallSpec, callOver, PROTOCOLS } from "./support/protocol-calls.ts";
import { createRawClient, type RawClient } from "./support/raw-client.ts";
import { startServer, TEST_TENANT, type TestServer } from "./support/start-server.ts";
import { eventually } from "./support/wait.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/key-proxy-rules.test.ts", () => {
  let server: TestServer;
  let client: RawClient;
  let connectionId: string;
  let secret: string;
  let proxyOnlyKey: string;

  before(async () => {
    server = await startServer();
    await createKeyProvider(server);
    secret = secretValue("proxy-only-never-sees");
    connectionId = await seedConnection(server, TEST_TENANT, secret);
    client = createRawClient(server.baseUrl);
    const created = await server.app.apiKeys.create({
      name: "proxy-only agent",
      role: "agent",
      tenantId: TEST_TENANT,
      proxyOnly: true,
      proxyRules: [{ provider: PROVIDER, methods: ["GET"], path: "/v1/**" }],
    });
    proxyOnlyKey = created.secret;
  });
  after(async () => {
    client?.close();
    await server?.close();
  });

  const createSpec = (json: Record<string, unknown>): CallSpec => ({
    rpc: "ApiKeyService/CreateApiKey",
    json: json as CallSpec["json"],
    rest: { method: "POST", path: "/v1/api-keys", body: json as CallSpec["json"] },
    headers: server.auth(server.adminKey),
  });

  test("rules and proxy_only are set at creation on every protocol, normalised, listed and audited", async () => {
    for (const protocol of PROTOCOLS) {
      const name = `rules via ${protocol}`;
      const outcome = await callOver(
        client,
        protocol,
        createSpec({
          name,
          role: "ROLE_AGENT",
          tenant_id: "rules-tenant",
          proxy_only: true,
          proxy_rules: [
            { provider: PROVIDER, methods: ["head", "GET"], path: "/repos/**" },
            { provider: PROVIDER, methods: ["*"], path: "/repos/*/*/issues" },
          ],
        }),
      );
      assert.equal(outcome.code, "ok", `${protocol}: ${outcome.message}`);
    }
    const listed = await fetch(`${server.baseUrl}/v1/api-keys?tenant_id=rules-tenant`, { headers: server.auth(server.adminKey) });
    const body = (await listed.json()) as { api_keys: { name: string; proxy_only?: boolean; proxy_rules?: unknown[] }[] };
    assert.equal(body.api_keys.length, PROTOCOLS.length);
    for (const key of body.api_keys) {
      assert.equal(key.proxy_only, true, key.name);
      assert.deepEqual(
        key.proxy_rules,
        [
          { provider: PROVIDER, methods: ["GET", "HEAD"], path: "/repos/**" },
          { provider: PROVIDER, methods: ["*"], path: "/repos/*/*/issues" },
        ],
        key.name,
      );
    }
    const createRows = async () =>
      (await server.app.store.listAuditEvents({ action: "api_key.create", tenantId: "rules-tenant" }, {})).items;
    await eventually(async () => (await createRows()).length === PROTOCOLS.length, 10_000, "the creations are audited");
    {
      const rows = await createRows();
      for (const row of rows) {
        assert.equal(row.details.proxy_rules, `${PROVIDER}:GET,HEAD:/repos/**; ${PROVIDER}:*:/repos/*/*/issues`);
        assert.equal(row.details.proxy_rule_count, "2");
        assert.equal(row.details.proxy_only, "true");
        assert.ok(!JSON.stringify(row).includes("nxk_"), "no secret in the audit row");
      }
    }
  });

  test("bad rules get the same invalid_argument, naming the field, on every protocol; nothing is stored", async () => {
    const rule = { provider: PROVIDER, methods: ["GET"], path: "/x" };
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      ["bad method", { proxy_rules: [{ ...rule, methods: ["FETCH"] }] }, "proxy_rules[0].methods", /"FETCH" is not one of/],
      ["no methods", { proxy_rules: [rule, { ...rule, methods: [] }] }, "proxy_rules[1].methods", /is required/],
      ["relative path", { proxy_rules: [{ ...rule, path: "x/**" }] }, "proxy_rules[0].path", /must start with "\/"/],
      ["partial wildcard", { proxy_rules: [{ ...rule, path: "/repos/a*" }] }, "proxy_rules[0].path", /whole segment/],
      ["dot segment", { proxy_rules: [{ ...rule, path: "/a/../b" }] }, "proxy_rules[0].path", /"\." or "\.\."/],
      ["too long", { proxy_rules: [{ ...rule, path: `/${"a".repeat(600)}` }] }, "proxy_rules[0].path", /at most 512/],
      ["unknown provider", { proxy_rules: [{ ...rule, provider: "githb" }] }, "proxy_rules[0].provider", /no provider named "githb"/],
      ["bad provider", { proxy_rules: [{ ...rule, provider: "Git Hub" }] }, "proxy_rules[0].provider", /provider name/],
      ["duplicate", { proxy_rules: [rule, { ...rule, methods: ["get"] }] }, "proxy_rules[1]", /duplicate rule/],
      [
        "too many",
        { proxy_rules: Array.from({ length: 33 }, (_, i) => ({ ...rule, path: `/p${i}` })) },
        "proxy_rules",
        /at most 32 rules per key/,
      ],
      ["rules on an admin key", { role: "ROLE_ADMIN", tenant_id: "", proxy_rules: [rule] }, "proxy_rules", /agent keys only/],
      ["proxy_only on an admin key", { role: "ROLE_ADMIN", tenant_id: "", proxy_only: true }, "proxy_only", /agent keys only/],
    ];
    const before = (await server.app.store.listApiKeys({}, { pageSize: 500 })).items.length;
    for (const [label, fields, field, message] of cases) {
      for (const protocol of PROTOCOLS) {
        const outcome = await callOver(
          client,
          protocol,
          createSpec({ name: label, role: "ROLE_AGENT", tenant_id: "bad-rules", ...fields }),
        );
        assert.equal(outcome.code, "invalid_argument", `${label} / ${protocol}: ${outcome.message}`);
        assert.equal(outcome.reason, "INVALID_FIELD", `${label} / ${protocol}`);
        assert.equal(outcome.field, field, `${label} / ${protocol}`);
        assert.match(outcome.message, message, `${label} / ${protocol}`);
        if (protocol === "rest") assert.equal(outcome.status, 400);
      }
    }
    assert.equal((await server.app.store.listApiKeys({}, { pageSize: 500 })).items.length, before, "nothing stored");
  });

  test("a proxy-only key: GetToken and RefreshConnection refused on every protocol, TOKEN_ACCESS_DISABLED, no secret", async () => {
    const specs: CallSpec[] = [
      {
        rpc: "TokenService/GetToken",
        json: { connection_id: connectionId },
        rest: { method: "GET", path: `/v1/token/${connectionId}` },
        headers: server.auth(proxyOnlyKey),
      },
      {
        rpc: "TokenService/RefreshConnection",
        json: { connection_id: connectionId },
        rest: { method: "POST", path: `/v1/refresh/${connectionId}` },
        headers: server.auth(proxyOnlyKey),
      },
    ];
    for (const spec of specs) {
      for (const protocol of PROTOCOLS) {
        const outcome = await callOver(client, protocol, spec);
        assert.equal(outcome.code, "permission_denied", `${spec.rpc} / ${protocol}: ${outcome.message}`);
        assert.equal(outcome.reason, "TOKEN_ACCESS_DISABLED", `${spec.rpc} / ${protocol}`);
        assert.match(outcome.message, /proxy-only/);
        assert.ok(!JSON.stringify(outcome).includes(secret), "the secret never appears");
        if (protocol === "rest") {
          assert.equal(outcome.status, 403);
          assert.equal(outcome.restReason, "token_access_disabled");
        }
      }
    }
    // The same key still does what does not hand out a credential.
    const check = await fetch(`${server.baseUrl}/v1/check-connection/${connectionId}`, { headers: server.auth(proxyOnlyKey) });
    assert.equal(check.status, 200);
    assert.ok(!(await check.text()).includes(secret));
    // A key of the same tenant that may read tokens gets the credential (the refusal is the flag's).
    const token = await fetch(`${server.baseUrl}/v1/token/${connectionId}`, { headers: server.auth(server.agentKey) });
    assert.equal(token.status, 200);
    assert.ok((await token.text()).includes(secret));
    const deniedRows = async () =>
      (await server.app.store.listAuditEvents({ action: "request.denied" }, { pageSize: 500 })).items.filter(
        (row) => row.details.reason === "token_access_disabled",
      );
    await eventually(async () => (await deniedRows()).length === specs.length * PROTOCOLS.length, 10_000, "the refusals are audited");
    assert.ok((await deniedRows()).every((row) => row.result === "permission_denied" && row.tenantId === TEST_TENANT));
  });

  test("a proxy-only key: WatchCredentials refused on Connect, gRPC and gRPC-Web before any event", async () => {
    const bearer: Interceptor = (next) => (req) => {
      req.header.set("authorization", `Bearer ${proxyOnlyKey}`);
      return next(req);
    };
    const options = { baseUrl: server.baseUrl, interceptors: [bearer] };
    const transports: [string, Transport][] = [
      ["connect", createConnectTransport({ ...options, httpVersion: "1.1" })],
      ["grpc", createGrpcTransport(options)],
      ["grpc-web", createGrpcWebTransport({ ...options, httpVersion: "1.1" })],
    ];
    for (const [label, transport] of transports) {
      const events: unknown[] = [];
      const err = await (async () => {
        for await (const event of createClient(TokenService, transport).watchCredentials({ connectionId })) events.push(event);
      })().then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      assert.ok(err !== undefined, `${label}: the stream is refused`);
      assert.equal(err.code, Code.PermissionDenied, label);
      assert.equal(err.findDetails(ErrorInfoSchema)[0]?.reason, ErrorReason.TOKEN_ACCESS_DISABLED, label);
      assert.deepEqual(events, [], `${label}: no event before the refusal`);
    }
  });
});
