/**
 * Limits and the HTTP edge, against the real server: the per-key rate limit (ResourceExhausted with
 * retry-after and RetryInfo on every protocol), the brake on failed authentication per client
 * address, the cap on open streams per key, body and header size limits, CORS for allowed and other
 * origins, the /metrics token, and client addresses behind a trusted proxy.
 */
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { ServerReflection } from "../gen/grpc/reflection/v1/reflection_pb.ts";
import { ConnectionService } from "../gen/nexus/v1/connections_pb.ts";
import { startServer, type TestServer } from "./support/start-server.ts";
import { eventually } from "./support/wait.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/limits.test.ts", () => {
  const METRICS_TOKEN = "metrics-token-0123456789abcdef";
  const APP_ORIGIN = "https://app.example.com";
  let server: TestServer;

  before(async () => {
    server = await startServer({
      env: {
        NEXUS_RATE_LIMIT_PER_SECOND: "1",
        NEXUS_RATE_LIMIT_BURST: "3",
        NEXUS_MAX_STREAMS_PER_KEY: "2",
        NEXUS_MAX_BODY_BYTES: "4096",
        NEXUS_CORS_ORIGINS: `${APP_ORIGIN},http://localhost:5173`,
        NEXUS_METRICS_TOKEN: METRICS_TOKEN,
        NEXUS_TRUSTED_PROXIES: "127.0.0.1,::1",
      },
    });
  });
  after(() => server.close());

  const connectCheck = (key: string | undefined, extra: Record<string, string> = {}) =>
    fetch(`${server.baseUrl}/nexus.v1.ConnectionService/CheckConnection`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}), ...extra },
      body: JSON.stringify({ connection_id: "conn_missing" }),
    });

  async function allAudit() {
    await server.app.audit.flush();
    return (await server.app.store.listAuditEvents({}, { pageSize: 1000 })).items;
  }

  describe("per-key rate limit", () => {
    test("after the burst: 429 resource_exhausted with retry-after and a RetryInfo detail; other keys unaffected", async () => {
      const key = (await server.createKey({ role: "agent" })).secret;
      for (let i = 0; i < 3; i++) assert.equal((await connectCheck(key)).status, 404, `call ${i} within the burst`);
      const limited = await connectCheck(key);
      assert.equal(limited.status, 429);
      assert.equal(limited.headers.get("retry-after"), "1");
      const body = (await limited.json()) as { code: string; details?: { type: string; value: string }[] };
      assert.equal(body.code, "resource_exhausted");
      const retryInfo = body.details?.find((d) => d.type === "google.rpc.RetryInfo");
      assert.ok(retryInfo, "RetryInfo detail present");
      // retry_delay { seconds: 0, nanos: ≤ 1e9 } or { seconds: 1 }: field 1 (message), inside field 1 or 2 varints.
      assert.equal(Buffer.from(retryInfo.value, "base64")[0], 0x0a);
      const other = (await server.createKey({ role: "agent" })).secret;
      assert.equal((await connectCheck(other)).status, 404, "a different key has its own bucket");
    });

    test("gRPC and REST answer the same way", async () => {
      const key = (await server.createKey({ role: "agent" })).secret;
      const client = createClient(ConnectionService, createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [server.bearer(key)] }));
      const codes: (Code | "ok")[] = [];
      for (let i = 0; i < 4; i++) {
        codes.push(
          await client.checkConnection({ connectionId: "conn_missing" }).then(
            () => "ok" as const,
            (e: unknown) => ConnectError.from(e).code,
          ),
        );
      }
      assert.deepEqual(codes, [Code.NotFound, Code.NotFound, Code.NotFound, Code.ResourceExhausted]);
      const err = await client.checkConnection({ connectionId: "conn_missing" }).catch((e: unknown) => ConnectError.from(e));
      assert.ok(err instanceof ConnectError && err.details.some((d) => "type" in d && d.type === "google.rpc.RetryInfo"));

      const restKey = (await server.createKey({ role: "agent" })).secret;
      let rest: Response | undefined;
      for (let i = 0; i < 4; i++)
        rest = await fetch(`${server.baseUrl}/v1/check-connection/conn_missing`, { headers: { authorization: `Bearer ${restKey}` } });
      assert.equal(rest?.status, 429);
      assert.equal(rest?.headers.get("retry-after"), "1");
    });

    test("failed authentication is braked per client address, and braked attempts are not audited", async () => {
      const address = "198.51.100.77";
      const codes: number[] = [];
      for (let i = 0; i < 5; i++)
        codes.push((await connectCheck("nxk_not-a-real-key-000000000000", { "x-forwarded-for": address })).status);
      assert.deepEqual(codes, [401, 401, 401, 429, 429]);
      const other = await connectCheck(undefined, { "x-forwarded-for": "198.51.100.78" });
      assert.equal(other.status, 401, "another address is not braked");
      assert.match(other.headers.get("www-authenticate") ?? "", /^Bearer/);
      const denied = (await allAudit()).filter((r) => r.action === "request.denied" && r.clientAddress === address);
      assert.equal(denied.length, 3, "only the unbraked attempts are audited");
    });
  });

  describe("open streams per key", () => {
    test("a third concurrent stream of one key is ResourceExhausted; closing one frees a slot", async () => {
      const key = (await server.createKey({ role: "agent", name: "streams" })).secret;
      const transport = createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [server.bearer(key)] });
      const reflection = createClient(ServerReflection, transport);
      const aborts: AbortController[] = [];
      // A reflection stream stays open while the client keeps its request stream open.
      const open = async () => {
        const abort = new AbortController();
        aborts.push(abort);
        let release: () => void = () => {};
        const hold = new Promise<void>((resolve) => (release = resolve));
        abort.signal.addEventListener("abort", () => release());
        async function* requests() {
          yield { messageRequest: { case: "listServices" as const, value: "" } };
          await hold;
        }
        const it = reflection.serverReflectionInfo(requests(), { signal: abort.signal })[Symbol.asyncIterator]();
        return it.next();
      };
      try {
        await open();
        await open();
        const third = await open().then(
          () => "ok",
          (e: unknown) => Code[ConnectError.from(e).code],
        );
        assert.equal(third, "ResourceExhausted");
        aborts[0]!.abort();
        // Retried until it opens: the server must see the abort, and the key's rate-limit bucket (1/s
        // here) must refill — the refused third call took a token. A refused try takes none.
        let fourth: IteratorResult<unknown> | undefined;
        await eventually(
          async () => {
            fourth = await open().catch((e: unknown) =>
              ConnectError.from(e).code === Code.ResourceExhausted ? undefined : Promise.reject(e),
            );
            return fourth !== undefined;
          },
          30_000,
          "a fourth stream opening",
          100,
        );
        assert.equal(fourth!.done, false, "a slot was freed");
        const otherKey = (await server.createKey({ role: "agent" })).secret;
        const other = createClient(
          ServerReflection,
          createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [server.bearer(otherKey)] }),
        );
        async function* once() {
          yield { messageRequest: { case: "listServices" as const, value: "" } };
        }
        for await (const answer of other.serverReflectionInfo(once())) assert.equal(answer.messageResponse.case, "listServicesResponse");
      } finally {
        for (const abort of aborts) abort.abort();
      }
    });
  });

  describe("size limits", () => {
    test("bodies over NEXUS_MAX_BODY_BYTES: Connect 429 resource_exhausted, REST 413, gRPC ResourceExhausted", async () => {
      const big = JSON.stringify({ connection_id: "x".repeat(8_000) });
      const connect = await fetch(`${server.baseUrl}/nexus.v1.ConnectionService/CheckConnection`, {
        method: "POST",
        headers: { "content-type": "application/json", ...server.auth() },
        body: big,
      });
      assert.equal(connect.status, 429);
      assert.equal(((await connect.json()) as { code: string }).code, "resource_exhausted");
      const rest = await fetch(`${server.baseUrl}/v1/request-connection`, {
        method: "POST",
        headers: { "content-type": "application/json", ...server.auth() },
        body: JSON.stringify({ user_id: "u".repeat(8_000) }),
      });
      assert.equal(rest.status, 413);
      const key = (await server.createKey({ role: "agent" })).secret;
      const grpc = createClient(ConnectionService, createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [server.bearer(key)] }));
      const err = await grpc.checkConnection({ connectionId: "x".repeat(8_000) }).catch((e: unknown) => ConnectError.from(e));
      assert.equal(err instanceof ConnectError ? err.code : undefined, Code.ResourceExhausted);
    });

    test("a header block over 16 KiB is refused with 431, and the server keeps serving", async () => {
      const status = await new Promise<number>((resolve, reject) => {
        const url = new URL(server.baseUrl);
        const req = http.request(
          { host: url.hostname, port: url.port, path: "/healthz", headers: { "x-big": "a".repeat(20_000) } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on("error", reject);
        req.end();
      });
      assert.equal(status, 431);
      assert.equal((await fetch(`${server.baseUrl}/healthz`)).status, 200);
    });
  });

  describe("CORS", () => {
    const preflight = (path: string, origin: string) =>
      fetch(`${server.baseUrl}${path}`, {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization,content-type,connect-protocol-version,x-grpc-web",
        },
      });

    test("allowed origins: preflights of Connect, gRPC-Web and REST paths are answered with their headers", async () => {
      for (const path of ["/nexus.v1.ConnectionService/CheckConnection", "/v1/request-connection"]) {
        const res = await preflight(path, APP_ORIGIN);
        assert.equal(res.status, 204, path);
        assert.equal(res.headers.get("access-control-allow-origin"), APP_ORIGIN);
        const allowed = (res.headers.get("access-control-allow-headers") ?? "").split(", ");
        for (const h of ["authorization", "content-type", "connect-protocol-version", "x-grpc-web", "x-api-key"])
          assert.ok(allowed.includes(h), h);
      }
      const actual = await connectCheck(server.agentKey, { origin: APP_ORIGIN });
      assert.equal(actual.status, 404);
      assert.equal(actual.headers.get("access-control-allow-origin"), APP_ORIGIN);
      assert.match(actual.headers.get("access-control-expose-headers") ?? "", /grpc-status/);
      const denied = await connectCheck(undefined, { origin: "http://localhost:5173", "x-forwarded-for": "198.51.100.90" });
      assert.equal(denied.status, 401);
      assert.equal(denied.headers.get("access-control-allow-origin"), "http://localhost:5173", "errors are readable by the page too");
    });

    test("other origins get no CORS headers at all", async () => {
      const res = await preflight("/nexus.v1.ConnectionService/CheckConnection", "https://evil.example");
      assert.equal(res.status, 403);
      assert.equal(res.headers.get("access-control-allow-origin"), null);
      const actual = await connectCheck(server.agentKey, { origin: "https://evil.example" });
      assert.equal(actual.headers.get("access-control-allow-origin"), null);
      assert.equal(actual.headers.get("access-control-allow-headers"), null);
    });
  });

  describe("plain endpoints", () => {
    test("/metrics needs the metrics token; health and readiness stay public", async () => {
      const reasonOf = async (res: Response) => [
        res.status,
        ((await res.json()) as { details?: { debug?: { reason?: string } }[] }).details?.[0]?.debug?.reason,
      ];
      assert.deepEqual(await reasonOf(await fetch(`${server.baseUrl}/metrics`)), [401, "api_key_missing"]);
      const wrong = await fetch(`${server.baseUrl}/metrics`, { headers: { authorization: "Bearer wrong-token-000000000" } });
      assert.deepEqual(await reasonOf(wrong), [401, "api_key_invalid"], "a wrong token is invalid, not missing");
      assert.equal(
        (await fetch(`${server.baseUrl}/metrics`, { headers: { authorization: `Bearer ${server.adminKey}` } })).status,
        401,
        "an API key is not the metrics token",
      );
      const ok = await fetch(`${server.baseUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
      assert.equal(ok.status, 200);
      assert.match(await ok.text(), /nexus_rpc_requests_total/);
      assert.equal((await fetch(`${server.baseUrl}/healthz`)).status, 200);
      assert.equal((await fetch(`${server.baseUrl}/readyz`)).status, 200);
    });
  });

  describe("client addresses behind a trusted proxy", () => {
    test("X-Forwarded-For from a trusted peer names the client; x-nexus-client-address from outside is ignored", async () => {
      const key = await server.createKey({ role: "agent", name: "addresses" });
      const headers = { authorization: `Bearer ${key.secret}` };
      await fetch(`${server.baseUrl}/v1/token/conn_missing`, { headers: { ...headers, "x-forwarded-for": "6.6.6.6, 203.0.113.5" } });
      await fetch(`${server.baseUrl}/v1/token/conn_missing`, { headers: { ...headers, "x-nexus-client-address": "6.6.6.6" } });
      const transport = createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1", interceptors: [server.bearer(key.secret)] });
      await createClient(ConnectionService, transport)
        .getConnection(
          { connectionId: "conn_missing" },
          { headers: { "x-nexus-client-address": "6.6.6.6", "x-forwarded-for": "203.0.113.6" } },
        )
        .catch(() => undefined);
      const reads = (await allAudit()).filter((r) => r.keyId === key.keyId && r.action === "token.read");
      assert.deepEqual(reads.map((r) => r.clientAddress).sort(), ["127.0.0.1", "203.0.113.5"]);
      assert.ok(
        (await allAudit()).every((r) => r.clientAddress !== "6.6.6.6"),
        "a spoofed address header never lands in the audit log",
      );
    });
  });
});
