/**
 * Bad input over plain HTTP gets a clear error with the right code, and the server keeps serving:
 * malformed JSON, wrong content type, oversized bodies, unknown paths and methods, text holding
 * U+0000 (which PostgreSQL cannot store).
 */
import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, describe, test } from "node:test";
import { createKeyProvider, PROVIDER } from "./support/access-fixtures.ts";
import { startServer, type TestServer } from "./support/start-server.ts";
import { TEST_STORE } from "./support/test-store.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/robustness.test.ts", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ env: { NEXUS_MAX_BODY_BYTES: "4096" } });
  });
  after(() => server.close());

  const rpc = (path: string, body: string, contentType = "application/json") =>
    fetch(`${server.baseUrl}${path}`, { method: "POST", headers: { "content-type": contentType, ...server.auth() }, body });

  async function assertStillServing() {
    const res = await fetch(`${server.baseUrl}/healthz`);
    assert.equal(res.status, 200);
  }

  test("malformed JSON → 400 invalid_argument (Connect and REST)", async () => {
    for (const path of ["/nexus.v1.ConnectionService/CheckConnection", "/v1/request-connection"]) {
      const res = await rpc(path, "{not json");
      assert.equal(res.status, 400, path);
      const body = (await res.json()) as { code: string; message: string };
      assert.equal(body.code, "invalid_argument", path);
      assert.ok(body.message.length > 0);
    }
    await assertStillServing();
  });

  test("unknown and wrongly typed JSON fields → invalid_argument", async () => {
    const unknown = await rpc("/nexus.v1.ConnectionService/CheckConnection", JSON.stringify({ conection_id: "x" }));
    assert.equal(unknown.status, 400);
    const wrongType = await rpc("/nexus.v1.ConnectionService/CheckConnection", JSON.stringify({ connection_id: 42 }));
    assert.equal(wrongType.status, 400);
    const restWrongType = await rpc("/v1/request-connection", JSON.stringify({ scopes: "email" }));
    assert.equal(restWrongType.status, 400);
    assert.equal(((await restWrongType.json()) as { code: string }).code, "invalid_argument");
  });

  test("wrong content type → 415 on Connect, clear error on REST", async () => {
    const connect = await rpc("/nexus.v1.ConnectionService/CheckConnection", "connection_id=x", "text/plain");
    assert.equal(connect.status, 415);
    const rest = await rpc("/v1/request-connection", "user_id=x", "application/x-www-form-urlencoded");
    assert.ok(rest.status === 415 || rest.status === 400, `got ${rest.status}`);
    const body = (await rest.json()) as { code: string };
    assert.ok(["invalid_argument", "unimplemented"].includes(body.code));
    await assertStillServing();
  });

  test("oversized body → resource_exhausted / 413, not a crash", async () => {
    const big = JSON.stringify({ connection_id: "x".repeat(10_000) });
    const connect = await rpc("/nexus.v1.ConnectionService/CheckConnection", big);
    assert.ok(connect.status >= 400 && connect.status < 500, `connect got ${connect.status}`);
    assert.equal(((await connect.json()) as { code: string }).code, "resource_exhausted");
    const rest = await rpc("/v1/request-connection", JSON.stringify({ user_id: "x".repeat(10_000) }));
    assert.equal(rest.status, 413);
    assert.equal(((await rest.json()) as { code: string }).code, "resource_exhausted");
    await assertStillServing();
  });

  test("unknown path → 404 JSON; unknown RPC → 404; wrong method on a REST path → 405", async () => {
    const unknown = await fetch(`${server.baseUrl}/no/such/path?code=secret-value`);
    assert.equal(unknown.status, 404);
    const body = (await unknown.json()) as { code: string; message: string };
    assert.equal(body.code, "not_found");
    assert.doesNotMatch(body.message, /secret-value/);
    const unknownRpc = await rpc("/nexus.v1.ConnectionService/NoSuchMethod", "{}");
    assert.equal(unknownRpc.status, 404);
    const wrongMethod = await fetch(`${server.baseUrl}/v1/check-connection/conn_x`, { method: "DELETE", headers: server.auth() });
    assert.equal(wrongMethod.status, 405);
    assert.match(wrongMethod.headers.get("allow") ?? "", /GET/);
    await assertStillServing();
  });

  test("REST over HTTP/2 prior knowledge works on the same port", async () => {
    const session = http2.connect(server.baseUrl);
    try {
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = session.request({ ":path": "/v1/check-connection/conn_missing", ":method": "GET", ...server.auth() });
        let status = 0;
        let body = "";
        req.on("response", (h) => (status = Number(h[":status"])));
        req.setEncoding("utf8");
        req.on("data", (d: string) => (body += d));
        req.on("end", () => resolve({ status, body }));
        req.on("error", reject);
      });
      assert.equal(status, 404);
      assert.equal((JSON.parse(body) as { code: string }).code, "not_found");
    } finally {
      session.close();
    }
  });

  test("text with U+0000 in lookups, filters and new rows → a 4xx (PostgreSQL: invalid_argument), never Internal", async () => {
    await createKeyProvider(server);
    const admin = server.auth(server.adminKey);
    const answers = [
      await fetch(`${server.baseUrl}/v1/providers/a%00b`, { headers: admin }),
      await fetch(`${server.baseUrl}/v1/connections?user_id=u%00`, { headers: server.auth() }),
      await fetch(`${server.baseUrl}/v1/connections?provider_name=p%00`, { headers: server.auth() }),
      await rpc(
        "/v1/request-connection",
        JSON.stringify({ user_id: "u\u0000", provider_name: PROVIDER, return_url: "http://localhost:3000/x" }),
      ),
    ];
    for (const res of answers) {
      const body = (await res.json()) as { code?: string };
      assert.ok(res.status < 500, `${res.url}: ${res.status} ${JSON.stringify(body)}`);
      // SQLite stores and matches U+0000 like any character; PostgreSQL refuses it as input.
      if (TEST_STORE === "postgres") assert.equal(body.code, "invalid_argument", res.url);
    }
    assert.ok(!server.logs().includes('"level":50'), "nothing logged as an error");
    await assertStillServing();
  });
});
