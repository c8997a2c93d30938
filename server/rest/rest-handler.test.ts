import assert from "node:assert/strict";
import * as http from "node:http";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { createRegistry, fromBinary } from "@bufbuild/protobuf";
import { base64Decode } from "@bufbuild/protobuf/wire";
import { Code, ConnectError, type ConnectRouter, createRouterTransport, type Interceptor } from "@connectrpc/connect";
import { ConnectionService, file_nexus_v1_connections } from "../../gen/nexus/v1/connections_pb.ts";
import { StrategyType } from "../../gen/nexus/v1/credential_pb.ts";
import { ErrorInfoSchema, ErrorReason, file_nexus_v1_errors } from "../../gen/nexus/v1/errors_pb.ts";
import { ProviderService } from "../../gen/nexus/v1/providers_pb.ts";
import { ConnectionStatus } from "../../gen/nexus/v1/status_pb.ts";
import { TokenService } from "../../gen/nexus/v1/tokens_pb.ts";
import { DEFAULT_MAX_BODY_BYTES } from "../config/defaults.ts";
import { CLIENT_ADDRESS_HEADER } from "../request/context.ts";
import { createRestHandler, type RestHandler, type RestHandlerOptions } from "./rest-handler.ts";

/** What the in-test implementation saw of the last call. */
interface Seen {
  rpc?: string;
  request?: Record<string, unknown>;
  header?: Headers;
}

function routes(seen: Seen) {
  const record = (rpc: string, request: object, header: Headers) => {
    seen.rpc = rpc;
    seen.request = request as Record<string, unknown>;
    seen.header = header;
  };
  return (router: ConnectRouter) => {
    router.service(ConnectionService, {
      requestConnection(req, ctx) {
        record("RequestConnection", req, ctx.requestHeader);
        return {
          authUrl: "https://idp.test/authorize?s=1",
          connectionId: "c-new",
          status: ConnectionStatus.PENDING,
          authUrlExpiresAt: 1700000600n,
        };
      },
      checkConnection(req, ctx) {
        record("CheckConnection", req, ctx.requestHeader);
        if (req.connectionId === "missing") {
          throw new ConnectError(`connection "missing" not found`, Code.NotFound, undefined, [
            { desc: ErrorInfoSchema, value: { reason: ErrorReason.CONNECTION_NOT_FOUND, connectionId: "missing" } },
          ]);
        }
        return { status: ConnectionStatus.ATTENTION_REQUIRED };
      },
      listConnections(req, ctx) {
        record("ListConnections", req, ctx.requestHeader);
        return { connections: [{ connectionId: "c1", status: ConnectionStatus.ACTIVE, expiresAt: 1700000000n }] };
      },
      revokeConnection(req, ctx) {
        record("RevokeConnection", req, ctx.requestHeader);
        return { connection: { connectionId: req.connectionId, status: ConnectionStatus.REVOKED }, providerRevoked: true };
      },
    });
    router.service(TokenService, {
      getToken(req, ctx) {
        record("GetToken", req, ctx.requestHeader);
        if (req.connectionId === "none") return {};
        return {
          credential: {
            strategy: { type: StrategyType.OAUTH2 },
            credentials: { access_token: "at-123", expires_at: 1700000000 },
            expiresAt: 1700000000n,
            version: 3n,
            connectionId: req.connectionId,
          },
        };
      },
      refreshConnection(req, ctx) {
        record("RefreshConnection", req, ctx.requestHeader);
        return { credential: { strategy: { type: StrategyType.HEADER }, version: 4n, connectionId: req.connectionId } };
      },
    });
    router.service(ProviderService, {
      updateProvider(req, ctx) {
        record("UpdateProvider", req, ctx.requestHeader);
        return { provider: req.provider };
      },
      deleteProvider(req, ctx) {
        record("DeleteProvider", req, ctx.requestHeader);
        return {};
      },
    });
  };
}

// Stands in for the server's interceptors: proves REST calls pass through them.
const echoRequestId: Interceptor = (next) => async (req) => {
  const id = req.header.get("x-request-id") ?? "generated-id";
  try {
    const res = await next(req);
    res.header.set("x-request-id", id);
    return res;
  } catch (err) {
    if (err instanceof ConnectError) err.metadata.set("x-request-id", id);
    throw err;
  }
};

interface TestServer {
  readonly url: string;
  readonly seen: Seen;
  close(): Promise<void>;
}

async function startServer(options: Partial<RestHandlerOptions> = {}): Promise<TestServer> {
  const seen: Seen = {};
  const rest: RestHandler = createRestHandler({
    services: [ConnectionService, TokenService, ProviderService],
    transport: createRouterTransport(routes(seen), { router: { interceptors: [echoRequestId] } }),
    registry: createRegistry(file_nexus_v1_errors, file_nexus_v1_connections),
    clientAddress: (req) => `peer:${req.socket.remoteAddress ?? "?"}`,
    maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
    ...options,
  });
  const server = http.createServer((req, res) => {
    rest.handle(req, res).then(
      (handled) => {
        if (!handled) {
          res.statusCode = 404;
          res.end("no rest route");
        }
      },
      (err: unknown) => {
        res.statusCode = 500;
        res.end(String(err));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

const json = { "content-type": "application/json" };

describe("REST handler over node:http", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  test('POST with body "*": the seed\'s request-connection contract', async () => {
    const res = await fetch(`${s.url}/v1/request-connection`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ user_id: "u1", providerName: "google", scopes: ["a", "b"], params: { shop: "acme" } }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.deepEqual(await res.json(), {
      authUrl: "https://idp.test/authorize?s=1",
      connection_id: "c-new",
      status: "pending",
      auth_url_expires_at: 1700000600,
    });
    assert.equal(s.seen.rpc, "RequestConnection");
    assert.equal(s.seen.request?.userId, "u1");
    assert.equal(s.seen.request?.providerName, "google");
    assert.deepEqual(s.seen.request?.scopes, ["a", "b"]);
    assert.deepEqual(s.seen.request?.params, { shop: "acme" });
  });

  test("GET with a path variable, percent-decoded", async () => {
    const res = await fetch(`${s.url}/v1/check-connection/c%201%2Fx`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: "attention_required" });
    assert.equal(s.seen.request?.connectionId, "c 1/x");
  });

  test("response_body sends the credential itself", async () => {
    const res = await fetch(`${s.url}/v1/token/c7`);
    assert.equal(res.status, 200);
    assert.equal(
      await res.text(),
      JSON.stringify({
        strategy: { type: "oauth2" },
        credentials: { access_token: "at-123", expires_at: 1700000000 },
        expires_at: 1700000000,
        version: 3,
        connection_id: "c7",
      }),
    );
    const empty = await fetch(`${s.url}/v1/token/none`);
    assert.deepEqual(await empty.json(), {});
  });

  test("POST without a body rule takes an empty body and refuses a real one", async () => {
    const ok = await fetch(`${s.url}/v1/refresh/c8`, { method: "POST" });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { strategy: { type: "header" }, version: 4, connection_id: "c8" });
    const refused = await fetch(`${s.url}/v1/refresh/c8`, { method: "POST", headers: json, body: "{}" });
    assert.equal(refused.status, 400);
    assert.equal(((await refused.json()) as { code: string }).code, "invalid_argument");
  });

  test('custom verb with body "*": the path wins, an empty body is {}', async () => {
    const res = await fetch(`${s.url}/v1/connections/c9:revoke`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ connection_id: "other" }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { connection: { connection_id: "c9", status: "revoked" }, provider_revoked: true });
    assert.equal(s.seen.request?.connectionId, "c9");
    const empty = await fetch(`${s.url}/v1/connections/c10:revoke`, { method: "POST" });
    assert.equal(empty.status, 200);
    assert.equal(s.seen.request?.connectionId, "c10");
  });

  test('PATCH with body "provider", a nested path variable and a FieldMask query parameter', async () => {
    const res = await fetch(`${s.url}/v1/providers/acme?update_mask=display_name,strategy.type`, {
      method: "PATCH",
      headers: json,
      body: JSON.stringify({ display_name: "Acme", auth_type: "api_key", strategy: { type: "query_param" } }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      provider: { name: "acme", display_name: "Acme", auth_type: "api_key", strategy: { type: "query_param" } },
    });
    const req = s.seen.request as { updateMask?: { paths: string[] } };
    assert.deepEqual(req.updateMask?.paths, ["display_name", "strategy.type"]);
  });

  test("DELETE with a bool query parameter; GET list with enum and int query parameters", async () => {
    const del = await fetch(`${s.url}/v1/providers/acme?force=true`, { method: "DELETE" });
    assert.equal(del.status, 200);
    assert.deepEqual(await del.json(), {});
    assert.equal(s.seen.request?.name, "acme");
    assert.equal(s.seen.request?.force, true);

    const list = await fetch(`${s.url}/v1/connections?status=active&page_size=5&userId=u%2B1&provider_name=git+hub`);
    assert.equal(list.status, 200);
    assert.deepEqual(await list.json(), { connections: [{ connection_id: "c1", status: "active", expires_at: 1700000000 }] });
    assert.equal(s.seen.request?.status, ConnectionStatus.ACTIVE);
    assert.equal(s.seen.request?.pageSize, 5);
    assert.equal(s.seen.request?.userId, "u+1");
    assert.equal(s.seen.request?.providerName, "git hub");
  });

  test("an RPC error keeps its code, message, details and interceptor headers", async () => {
    const res = await fetch(`${s.url}/v1/check-connection/missing`, { headers: { "x-request-id": "req-42" } });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.equal(res.headers.get("x-request-id"), "req-42");
    const body = (await res.json()) as { code: string; message: string; details: { type: string; value: string; debug: unknown }[] };
    assert.equal(body.code, "not_found");
    assert.equal(body.message, `connection "missing" not found`);
    assert.equal(body.details.length, 1);
    const [detail] = body.details;
    assert.equal(detail?.type, "nexus.v1.ErrorInfo");
    assert.deepEqual(detail?.debug, { reason: "connection_not_found", connection_id: "missing" });
    const decoded = fromBinary(ErrorInfoSchema, base64Decode(detail?.value ?? ""));
    assert.equal(decoded.reason, ErrorReason.CONNECTION_NOT_FOUND);
  });

  test("unimplemented RPCs answer 501", async () => {
    const res = await fetch(`${s.url}/v1/connections/c1`);
    assert.equal(res.status, 501);
    assert.equal(((await res.json()) as { code: string }).code, "unimplemented");
  });

  test("bad JSON, unknown fields and wrong types are 400 invalid_argument naming the problem", async () => {
    const cases: [string, RegExp][] = [
      ["{not json", /request body is not valid JSON/],
      ['{"user_id": "u", "colour": "red"}', /colour: unknown field/],
      ['{"scopes": "a"}', /scopes: .*expected/],
      ["[1, 2]", /expected a JSON object/],
      ['{"params": {"a": 1}}', /params: map entry "a": expected string/],
    ];
    for (const [body, message] of cases) {
      const res = await fetch(`${s.url}/v1/request-connection`, { method: "POST", headers: json, body });
      assert.equal(res.status, 400, body);
      const error = (await res.json()) as { code: string; message: string };
      assert.equal(error.code, "invalid_argument", body);
      assert.match(error.message, message);
    }
    const bin = await fetch(`${s.url}/v1/request-connection`, {
      method: "POST",
      headers: json,
      body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
    });
    assert.equal(bin.status, 400);
    assert.match(((await bin.json()) as { message: string }).message, /not valid UTF-8/);
  });

  test("bad query parameters are 400", async () => {
    for (const query of ["colour=red", "status=asleep", "page_size=many", "user_id=%E0%A4%A", "user_id=%FF"]) {
      const res = await fetch(`${s.url}/v1/connections?${query}`);
      assert.equal(res.status, 400, query);
      assert.equal(((await res.json()) as { code: string }).code, "invalid_argument", query);
    }
    const onBodyRoute = await fetch(`${s.url}/v1/request-connection?user_id=u`, { method: "POST", headers: json, body: "{}" });
    assert.equal(onBodyRoute.status, 400);
  });

  test("malformed percent-encoding in the path is 400, never a crash", async () => {
    for (const path of ["/v1/token/%zz", "/v1/token/%ff%fe", "/v1/token/%"]) {
      const res = await fetch(`${s.url}${path}`);
      assert.equal(res.status, 400, path);
      assert.equal(((await res.json()) as { code: string }).code, "invalid_argument");
    }
  });

  test("a non-JSON content type on a body route is 415", async () => {
    const res = await fetch(`${s.url}/v1/request-connection`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "user_id=u",
    });
    assert.equal(res.status, 415);
    const body = (await res.json()) as { code: string; details: { debug: { reason: string } }[] };
    assert.deepEqual([body.code, body.details[0]?.debug.reason], ["unimplemented", "unsupported_media_type"]);
    const latin1 = await fetch(`${s.url}/v1/request-connection`, {
      method: "POST",
      headers: { "content-type": "application/json; charset=iso-8859-1" },
      body: "{}",
    });
    assert.equal(latin1.status, 415);
    const withCharset = await fetch(`${s.url}/v1/request-connection`, {
      method: "POST",
      headers: { "content-type": "application/json; charset=UTF-8" },
      body: "{}",
    });
    assert.equal(withCharset.status, 200);
  });

  test("a matching path with the wrong method is 405 with Allow", async () => {
    const res = await fetch(`${s.url}/v1/token/c1`, { method: "DELETE" });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "GET");
    const body = (await res.json()) as { code: string; details: { debug: { reason: string } }[] };
    assert.deepEqual([body.code, body.details[0]?.debug.reason], ["unimplemented", "method_not_allowed"]);
    const two = await fetch(`${s.url}/v1/providers/x`, { method: "PUT", headers: json, body: "{}" });
    assert.equal(two.status, 405);
    assert.equal(two.headers.get("allow"), "DELETE, GET, PATCH");
  });

  test("an unknown path is left to the caller", async () => {
    for (const path of ["/v1/nothing", "/v1/token", "/v1/token/a/b", "/nexus.v1.TokenService/GetToken", "/v1/connections/"]) {
      const res = await fetch(`${s.url}${path}`);
      assert.equal(res.status, 404, path);
      assert.equal(await res.text(), "no rest route");
    }
  });

  test("forwards the allow-listed headers and the client address, never a caller's address header", async () => {
    await fetch(`${s.url}/v1/check-connection/c1`, {
      headers: {
        authorization: "Bearer nxs_test",
        "x-request-id": "rid-1",
        "user-agent": "agent/1.0",
        cookie: "session=secret",
        [CLIENT_ADDRESS_HEADER]: "6.6.6.6",
      },
    });
    const header = s.seen.header;
    assert.ok(header);
    assert.equal(header.get("authorization"), "Bearer nxs_test");
    assert.equal(header.get("x-request-id"), "rid-1");
    assert.equal(header.get("user-agent"), "agent/1.0");
    assert.equal(header.get("cookie"), null);
    assert.equal(header.get(CLIENT_ADDRESS_HEADER), "peer:127.0.0.1");
  });
});

describe("REST handler limits and options", () => {
  test("a body over maxBodyBytes is 413 resource_exhausted, declared or streamed", async () => {
    const s = await startServer({ maxBodyBytes: 64 });
    try {
      const big = JSON.stringify({ user_id: "u".repeat(100) });
      const declared = await fetch(`${s.url}/v1/request-connection`, { method: "POST", headers: json, body: big });
      assert.equal(declared.status, 413);
      assert.equal(((await declared.json()) as { code: string }).code, "resource_exhausted");

      // Chunked: no Content-Length, so the limit is enforced while reading.
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request(`${s.url}/v1/request-connection`, { method: "POST", headers: json }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", reject);
        req.write(big.slice(0, 50));
        setTimeout(() => req.end(big.slice(50)), 20);
      });
      assert.equal(status, 413);
      assert.equal(s.seen.rpc, undefined, "the RPC never ran");
    } finally {
      await s.close();
    }
  });

  test("forwardHeaders replaces the default list but cannot forward the address header", async () => {
    const s = await startServer({ forwardHeaders: ["X-Tenant", CLIENT_ADDRESS_HEADER], clientAddress: undefined });
    try {
      await fetch(`${s.url}/v1/check-connection/c1`, {
        headers: { "x-tenant": "t1", authorization: "Bearer x", [CLIENT_ADDRESS_HEADER]: "6.6.6.6" },
      });
      assert.equal(s.seen.header?.get("x-tenant"), "t1");
      assert.equal(s.seen.header?.get("authorization"), null);
      assert.equal(s.seen.header?.get(CLIENT_ADDRESS_HEADER), null);
    } finally {
      await s.close();
    }
  });

  test("serves HTTP/2 requests through the compatibility API", async () => {
    const seen: Seen = {};
    const rest = createRestHandler({
      services: [ConnectionService],
      transport: createRouterTransport(routes(seen)),
      clientAddress: (req) => req.socket.remoteAddress ?? "",
      maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
    });
    const server = http2.createServer((req, res) => {
      void rest.handle(req, res).then((handled) => {
        if (!handled) res.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const stream = client.request({ ":method": "POST", ":path": "/v1/request-connection", "content-type": "application/json" });
        let status = 0;
        let body = "";
        stream.on("response", (headers) => (status = Number(headers[":status"])));
        stream.setEncoding("utf8");
        stream.on("data", (chunk: string) => (body += chunk));
        stream.on("end", () => resolve({ status, body }));
        stream.on("error", reject);
        stream.end(JSON.stringify({ user_id: "u2", provider_name: "github" }));
      });
      assert.equal(status, 200);
      assert.equal((JSON.parse(body) as { connection_id: string }).connection_id, "c-new");
      assert.equal(seen.request?.userId, "u2");
      assert.equal(seen.header?.get(CLIENT_ADDRESS_HEADER), "127.0.0.1");
    } finally {
      client.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
