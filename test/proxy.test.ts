/**
 * The credential-injecting proxy end to end (issue 15): a real server, a real store, and a local
 * provider API that records every request and VERIFIES the credential the proxy applied, for each
 * of the six strategies (aws_sigv4 with a real verification by @smithy/signature-v4). The agent
 * never receives the credential; other hosts and paths stay unreachable; every call is audited.
 */
import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { connect as connectH2 } from "node:http2";
import { after, before, describe, test } from "node:test";
import { Hash } from "@smithy/hash-node";
import { SignatureV4 } from "@smithy/signature-v4";
import type { ProxyAccess } from "../server/auth/proxy-access.ts";
import { credentialAad, encodeStoredSecret, type StoredSecret } from "../server/domain/stored-secret.ts";
import { metricValue } from "./support/metric-value.ts";
import { type ProxyUpstream, type RecordedRequest, rawRequest, startProxyUpstream } from "./support/proxy-upstream.ts";
import { startServer, TEST_TENANT, type TestServer } from "./support/start-server.ts";
import { eventualValue } from "./support/wait.ts";

/** Nexus's REST error body. */
interface ErrorBody {
  code: string;
  message: string;
  details: { debug: { reason: string } }[];
}

/** The ErrorInfo reason of an error answer. */
async function reasonOf(res: Response): Promise<string | undefined> {
  return ((await res.json()) as ErrorBody).details[0]?.debug.reason;
}

const secret = (label: string) => `${label}-${randomBytes(12).toString("hex")}`;

describe("proxy /v1/proxy/{connection_id}/{path}", () => {
  let server: TestServer;
  let upstream: ProxyUpstream;
  let tokenCalls = 0;
  /** The access token the fake token endpoint hands out next, and the one the API accepts. */
  let currentAccessToken = "";
  let denyAll = false;
  let oauthAlwaysRefuses = false;
  const secrets: string[] = [];
  const connections: Record<string, string> = {};
  const values = {
    header: secret("hdr"),
    query: secret("qry"),
    user: "proxy-user",
    password: secret("pw"),
    hmac: secret("hmac"),
    awsAccess: "AKIDEXAMPLEPROXY",
    awsSecret: secret("awssecret"),
    oauthOld: secret("at-old"),
    oauthNew: secret("at-new"),
    refresh: secret("rt"),
  };
  const access: ProxyAccess = {
    decide: (_principal, call) =>
      denyAll ? { allowed: false, reason: `no rule allows ${call.method} ${call.path}` } : { allowed: true, matched: "test-allow" },
  };

  const api = (name: string) => `${upstream.origin}/api/${name}`;
  const schema = (fields: string[]) => ({
    type: "object",
    properties: Object.fromEntries(fields.map((f) => [f, { type: "string", title: f }])),
    required: fields,
  });

  async function createProvider(body: Record<string, unknown>): Promise<void> {
    const res = await fetch(`${server.baseUrl}/v1/providers`, {
      method: "POST",
      headers: { "content-type": "application/json", ...server.auth(server.adminKey) },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 200, await res.text());
  }

  async function seed(
    providerName: string,
    stored: StoredSecret,
    tenantId = TEST_TENANT,
    params?: Record<string, string>,
  ): Promise<string> {
    const { store, vault } = server.app;
    await store.ensureTenant({ id: tenantId });
    const connection = await store.createConnection({ tenantId, userId: "user-1", providerName, status: "active", params });
    await store.saveCredential(connection.id, 0, {
      secret: vault.seal(encodeStoredSecret(stored), credentialAad(connection.id, 1)),
      expiresAtSeconds: stored.expiresAtSeconds ?? null,
    });
    return connection.id;
  }

  function proxy(connection: string, path: string, init: RequestInit & { key?: string } = {}): Promise<Response> {
    const { key, ...rest } = init;
    return fetch(`${server.baseUrl}/v1/proxy/${connection}${path}`, {
      ...rest,
      headers: { ...server.auth(key), ...(rest.headers as Record<string, string> | undefined) },
    });
  }

  /** Asserts no secret (credential values, Nexus keys) is in `text`. */
  function assertNoSecret(text: string, where: string): void {
    for (const value of [...secrets, server.agentKey, server.adminKey]) assert.ok(!text.includes(value), `${where} leaks a secret`);
  }

  function lastRequest(): RecordedRequest {
    const last = upstream.requests.at(-1);
    assert.ok(last, "the upstream saw no request");
    return last;
  }

  before(async () => {
    upstream = await startProxyUpstream();
    server = await startServer({
      env: {
        NEXUS_PROXY_MAX_REQUEST_BYTES: String(2 * 1024 * 1024),
        NEXUS_PROXY_MAX_RESPONSE_BYTES: String(2 * 1024 * 1024),
        NEXUS_CORS_ORIGINS: "https://app.example",
      },
      overrides: { proxyAccess: { decide: (p, c) => access.decide(p, c) } },
    });
    secrets.push(...Object.values(values).filter((v) => v.length > 16));

    await createProvider({
      name: "px-header",
      auth_type: "api_key",
      credential_schema: schema(["api_key"]),
      strategy: { type: "header", header: { header_name: "X-Api-Key" } },
      api_base_url: api("header"),
    });
    await createProvider({
      name: "px-query",
      auth_type: "api_key",
      credential_schema: schema(["api_key"]),
      strategy: { type: "query_param", query_param: { param_name: "key" } },
      api_base_url: api("query"),
    });
    await createProvider({
      name: "px-basic",
      auth_type: "basic_auth",
      credential_schema: schema(["username", "password"]),
      strategy: { type: "basic_auth" },
      api_base_url: api("basic"),
    });
    await createProvider({
      name: "px-hmac",
      auth_type: "api_key",
      credential_schema: schema(["api_secret"]),
      strategy: { type: "hmac_payload", hmac_payload: { header_name: "X-Signature" } },
      api_base_url: api("hmac"),
    });
    await createProvider({
      name: "px-aws",
      auth_type: "api_key",
      credential_schema: schema(["access_key", "secret_key"]),
      strategy: { type: "aws_sigv4", aws_sigv4: { service: "execute-api", region: "eu-west-1" } },
      api_base_url: api("aws"),
    });
    await createProvider({
      name: "px-oauth",
      auth_type: "oauth2",
      oauth: {
        authorization_endpoint: `${upstream.origin}/authorize`,
        token_endpoint: `${upstream.origin}/token`,
        client_id: "proxy-client",
        client_secret: "proxy-client-secret",
        client_auth_method: "client_secret_post",
      },
      strategy: { type: "oauth2" },
      api_base_url: api("oauth"),
    });
    await createProvider({
      name: "px-none",
      auth_type: "api_key",
      credential_schema: schema(["api_key"]),
      strategy: { type: "header", header: { header_name: "X-Api-Key" } },
    });
    await createProvider({
      name: "px-slow",
      auth_type: "api_key",
      credential_schema: schema(["api_key"]),
      strategy: { type: "header", header: { header_name: "X-Api-Key" } },
      api_base_url: api("slow"),
      proxy_timeouts: { first_byte_ms: 300 },
    });
    await createProvider({
      name: "px-stall",
      auth_type: "api_key",
      credential_schema: schema(["api_key"]),
      strategy: { type: "header", header: { header_name: "X-Api-Key" } },
      api_base_url: api("stall"),
      proxy_timeouts: { idle_ms: 300, total_ms: 5_000 },
    });
    await createProvider({
      name: "px-down",
      auth_type: "api_key",
      credential_schema: schema(["api_key"]),
      strategy: { type: "header", header: { header_name: "X-Api-Key" } },
      // Port 9 (discard) on loopback: nothing listens, so the connection is refused.
      api_base_url: "http://127.0.0.1:9/api",
    });

    connections.header = await seed("px-header", { kind: "fields", fields: { api_key: values.header } });
    connections.query = await seed("px-query", { kind: "fields", fields: { api_key: values.query } });
    connections.basic = await seed("px-basic", { kind: "fields", fields: { username: values.user, password: values.password } });
    connections.hmac = await seed("px-hmac", { kind: "fields", fields: { api_secret: values.hmac } });
    connections.aws = await seed("px-aws", { kind: "fields", fields: { access_key: values.awsAccess, secret_key: values.awsSecret } });
    connections.oauth = await seed("px-oauth", {
      kind: "oauth2",
      accessToken: values.oauthOld,
      tokenType: "Bearer",
      refreshToken: values.refresh,
      expiresAtSeconds: Math.floor(Date.now() / 1000) + 3600,
    });
    connections.none = await seed("px-none", { kind: "fields", fields: { api_key: values.header } });
    connections.slow = await seed("px-slow", { kind: "fields", fields: { api_key: values.header } });
    connections.stall = await seed("px-stall", { kind: "fields", fields: { api_key: values.header } });
    connections.down = await seed("px-down", { kind: "fields", fields: { api_key: values.header } });
    connections.broken = await seed("px-basic", { kind: "fields", fields: { username: "a:b", password: "x" } });
    connections.missing = await seed("px-hmac", { kind: "fields", fields: { not_the_secret: "x" } });
    connections.otherTenant = await seed("px-header", { kind: "fields", fields: { api_key: values.header } }, "tenant-other");
    currentAccessToken = values.oauthOld;

    // The provider API: verifies each strategy's credential, and is the OAuth token endpoint too.
    upstream.respond = async (req, res, recorded) => {
      const url = new URL(recorded.url, upstream.origin);
      if (url.pathname === "/token") {
        tokenCalls++;
        const form = new URLSearchParams(recorded.body.toString("utf8"));
        assert.equal(form.get("grant_type"), "refresh_token");
        currentAccessToken = values.oauthNew;
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ access_token: values.oauthNew, token_type: "Bearer", expires_in: 3600, refresh_token: values.refresh }));
        return;
      }
      if (url.pathname.startsWith("/api/slow/")) return; // never answers: the first-byte timeout ends it
      if (url.pathname.startsWith("/api/stall/")) {
        // Headers and part of the body, then silence: the idle timeout cuts the answer off.
        res.writeHead(200, { "content-type": "text/plain" });
        res.write("partial");
        return;
      }
      const verdict = await verify(recorded, url);
      if (url.pathname.endsWith("/echo-body")) {
        // An "anything"-style endpoint: the request's headers come back in the body, the credential
        // split across two chunks; and what Accept-Encoding the provider was asked for.
        const echoed = JSON.stringify({ acceptEncoding: req.headers["accept-encoding"], headers: req.headers });
        const at = echoed.indexOf(String(req.headers["x-api-key"])) + 5;
        res.writeHead(200, { "content-type": "application/json" });
        res.write(echoed.slice(0, at));
        res.end(echoed.slice(at));
        return;
      }
      if (url.pathname.endsWith("/plain-body")) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ acceptEncoding: req.headers["accept-encoding"] }));
        return;
      }
      if (url.pathname.endsWith("/cors-open")) {
        res.writeHead(200, {
          "content-type": "application/json",
          "access-control-allow-origin": "*",
          "access-control-allow-credentials": "true",
          "access-control-expose-headers": "*",
          vary: "accept-encoding",
        });
        res.end("{}");
        return;
      }
      if (url.pathname.endsWith("/forged-refusal")) {
        res.writeHead(400, { "content-type": "application/json", "x-nexus-proxy-refusal": "1" });
        res.end(JSON.stringify({ code: "failed_precondition", message: "connection is revoked", details: [] }));
        return;
      }
      if (url.pathname.endsWith("/echo-auth")) {
        // A provider that echoes the request's Authorization in a header (a debug header, a challenge).
        res.writeHead(200, { "x-echo-auth": String(req.headers.authorization), "content-type": "text/plain" });
        res.end("ok");
        return;
      }
      if (url.pathname.endsWith("/echo-redirect")) {
        res.writeHead(302, {
          location: `${upstream.origin}/next?${url.searchParams.toString()}`,
          "x-echo": String(req.headers["x-api-key"]),
        });
        res.end();
        return;
      }
      if (url.pathname.endsWith("/too-many")) {
        res.writeHead(429, { "retry-after": "7", "content-type": "text/plain" });
        res.end("slow down");
        return;
      }
      if (url.pathname.endsWith("/big")) {
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(3 * 1024 * 1024) });
        res.end(Buffer.alloc(3 * 1024 * 1024));
        return;
      }
      if (url.pathname.endsWith("/big-chunked")) {
        res.writeHead(200, { "content-type": "application/octet-stream" });
        for (let i = 0; i < 3; i++) res.write(Buffer.alloc(1024 * 1024));
        res.end();
        return;
      }
      res.writeHead(verdict ? 200 : 401, {
        "content-type": "application/json",
        "set-cookie": "session=provider-cookie; Path=/",
        "x-provider-header": "kept",
        connection: "x-hop-only, keep-alive",
        "x-hop-only": "dropped",
      });
      res.end(JSON.stringify({ verified: verdict, path: url.pathname, bodyLength: recorded.bodyLength }));
      void req;
    };
  });
  after(async () => {
    await server?.close();
    await upstream?.close();
  });

  /** Whether the recorded request carries the right credential for its provider path. */
  async function verify(recorded: RecordedRequest, url: URL): Promise<boolean> {
    const h = recorded.headers;
    const kind = url.pathname.split("/")[2];
    switch (kind) {
      case "header":
        return h["x-api-key"] === values.header;
      case "query":
        return url.searchParams.get("key") === values.query;
      case "basic":
        return h.authorization === `Basic ${Buffer.from(`${values.user}:${values.password}`).toString("base64")}`;
      case "hmac":
        return h["x-signature"] === createHmac("sha256", values.hmac).update(recorded.body).digest("hex");
      case "aws":
        return verifySigV4(recorded, url);
      case "oauth":
        return !oauthAlwaysRefuses && h.authorization === `Bearer ${currentAccessToken}`;
      default:
        return false;
    }
  }

  /** Recomputes the SigV4 signature of the received request with the AWS SDK's signer. */
  async function verifySigV4(recorded: RecordedRequest, url: URL): Promise<boolean> {
    const auth = String(recorded.headers.authorization ?? "");
    const match =
      /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=[0-9a-f]{64}$/.exec(
        auth,
      );
    if (match === null) return false;
    const [, accessKeyId, region, service, signedHeaders] = match as unknown as [string, string, string, string, string];
    if (accessKeyId !== values.awsAccess) return false;
    const headers: Record<string, string> = {};
    for (const name of signedHeaders.split(";")) headers[name] = String(recorded.headers[name] ?? "");
    const query: Record<string, string | string[]> = {};
    for (const name of new Set(url.searchParams.keys())) {
      const all = url.searchParams.getAll(name);
      query[name] = all.length === 1 ? (all[0] ?? "") : all;
    }
    const amzDate = String(recorded.headers["x-amz-date"] ?? "");
    const signingDate = new Date(
      `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
    );
    const signer = new SignatureV4({
      service,
      region,
      credentials: { accessKeyId, secretAccessKey: values.awsSecret },
      sha256: Hash.bind(null, "sha256"),
    });
    const signed = await signer.sign(
      {
        method: recorded.method,
        protocol: "http:",
        hostname: "127.0.0.1",
        port: upstream.port,
        path: url.pathname,
        query,
        headers,
        body: recorded.body,
      },
      { signingDate },
    );
    return signed.headers.authorization === auth;
  }

  for (const kind of ["header", "query", "basic", "hmac", "aws", "oauth"] as const) {
    test(`${kind}: GET and POST reach the provider with a credential it verifies; the agent never sees it`, async () => {
      const get = await proxy(connections[kind]!, "/repos/nexus?page=2&sort=asc", { headers: { "x-pass-through": "yes" } });
      const getText = await get.text();
      assert.equal(get.status, 200, getText);
      assert.equal(JSON.parse(getText).verified, true);
      const seen = lastRequest();
      assert.equal(seen.method, "GET");
      assert.ok(seen.url.startsWith(`/api/${kind}/repos/nexus?page=2&sort=asc`), seen.url);
      assert.equal(seen.headers["x-pass-through"], "yes");
      assertNoSecret(JSON.stringify(Object.fromEntries(get.headers)), "response headers");
      assertNoSecret(getText, "response body");

      const body = JSON.stringify({ title: "hello", n: randomBytes(8).toString("hex") });
      const post = await proxy(connections[kind]!, "/repos/nexus/issues", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      const postText = await post.text();
      assert.equal(post.status, 200, postText);
      assert.deepEqual(JSON.parse(postText), { verified: true, path: `/api/${kind}/repos/nexus/issues`, bodyLength: body.length });
      const posted = lastRequest();
      assert.equal(posted.bodySha256, createHash("sha256").update(body).digest("hex"));
      // The caller's Nexus key never reaches the provider.
      assert.ok(!JSON.stringify(posted.headers).includes(server.agentKey));
      assertNoSecret(postText, "response body");
    });
  }

  test("the caller's Nexus key, cookies, forwarding and hop-by-hop headers stay home; Set-Cookie and hop-by-hop headers never come back", async () => {
    const res = await rawRequest(server.baseUrl, {
      path: `/v1/proxy/${connections.header}/hop`,
      headers: {
        ...server.auth(),
        "x-api-key": server.agentKey,
        cookie: "nexus_session=abc",
        "x-forwarded-for": "10.1.2.3",
        "x-forwarded-prefix": "/admin",
        "true-client-ip": "10.1.2.3",
        via: "1.1 nexus",
        connection: "x-secret-hop",
        "x-secret-hop": "must-not-pass",
        "x-kept": "yes",
      },
    });
    assert.equal(res.status, 200, res.text);
    const seen = lastRequest();
    assert.equal(seen.headers["x-api-key"], values.header, "the provider credential replaces the caller's x-api-key");
    for (const name of ["authorization", "cookie", "x-forwarded-for", "x-forwarded-prefix", "true-client-ip", "via", "x-secret-hop"])
      assert.equal(seen.headers[name], undefined, name);
    assert.equal(seen.headers["x-kept"], "yes");
    assert.equal(res.headers["set-cookie"], undefined);
    assert.equal(res.headers["x-hop-only"], undefined);
    assert.equal(res.headers["x-provider-header"], "kept");
  });

  test("paths that would leave the API base URL are refused before anything is sent", async () => {
    const before = upstream.requests.length;
    const bad = [
      "/../token",
      "/repos/../../token",
      "/%2e%2e/token",
      "/.%2E/token",
      "/repos/./x",
      "/repos%2F..%2Ftoken",
      "/repos%2fx",
      "/repos%5C..%5Ctoken",
      "/repos\\..\\token",
      "//evil.example/x",
      "/https://evil.example/x",
      "/http:%2F%2Fevil.example",
      "/repos/..;/token",
      "/repos/%00",
      "/repos/%zz",
      "/repos/..%3B/token",
      "/%C0%AE%C0%AE/token",
      "/%EF%BC%8E%EF%BC%8E/token",
      "/..%20/token",
    ];
    for (const path of bad) {
      const res = await rawRequest(server.baseUrl, { path: `/v1/proxy/${connections.header}${path}`, headers: server.auth() });
      assert.equal(res.status, 400, `${path}: ${res.text}`);
      assert.equal((JSON.parse(res.text) as ErrorBody).details[0]?.debug.reason, "proxy_path_invalid", path);
    }
    // The same targets over HTTP/2 (:path as written): the same status and reason.
    const session = connectH2(server.baseUrl);
    try {
      // Raw non-ASCII: HTTP/1.1's parser answers 400; HTTP/2 passes it to Nexus, which answers 400 too.
      for (const path of [...bad, "/caf\u00e9", "/x?q=\u00e9"]) {
        const stream = session.request({ ":path": `/v1/proxy/${connections.header}${path}`, ...server.auth() });
        stream.end();
        const [status, text] = await new Promise<[number, string]>((resolve, reject) => {
          let code = 0;
          let body = "";
          stream.on("response", (headers) => {
            code = Number(headers[":status"]);
          });
          stream.setEncoding("utf8");
          stream.on("data", (chunk: string) => {
            body += chunk;
          });
          stream.on("end", () => resolve([code, body]));
          stream.on("error", reject);
        });
        assert.equal(status, 400, `h2 ${path}: ${text}`);
        assert.equal((JSON.parse(text) as ErrorBody).details[0]?.debug.reason, "proxy_path_invalid", `h2 ${path}`);
      }
    } finally {
      session.close();
    }
    // An absolute-form request target is not a proxy call at all.
    const absolute = await rawRequest(server.baseUrl, {
      path: `http://evil.example/v1/proxy/${connections.header}/x`,
      headers: server.auth(),
    });
    assert.equal(absolute.status, 404);
    assert.equal(upstream.requests.length, before, "the upstream saw none of them");

    // '@' and encoded characters are path data: the host stays the provider's.
    const at = await rawRequest(server.baseUrl, {
      path: `/v1/proxy/${connections.header}/@evil.example/u%73er%20x`,
      headers: server.auth(),
    });
    assert.equal(at.status, 200, at.text);
    assert.equal(lastRequest().url, "/api/header/@evil.example/user%20x");
    assert.equal(lastRequest().headers.host, `127.0.0.1:${upstream.port}`);
    const root = await rawRequest(server.baseUrl, { path: `/v1/proxy/${connections.header}`, headers: server.auth() });
    assert.equal(root.status, 200, root.text);
    assert.equal(lastRequest().url, "/api/header/");
  });

  test("an agent reaches only its tenant's connections; no key is 401; a provider without api_base_url is not proxied", async () => {
    const before = upstream.requests.length;
    const other = await proxy(connections.otherTenant!, "/x");
    assert.equal(other.status, 404);
    assert.equal(await reasonOf(other), "connection_not_found");
    const admin = await proxy(connections.otherTenant!, "/x", { key: server.adminKey });
    assert.equal(admin.status, 200, "an admin key reaches any tenant's connection");
    const none = await fetch(`${server.baseUrl}/v1/proxy/${connections.header}/x`);
    assert.equal(none.status, 401);
    assert.equal(await reasonOf(none), "api_key_missing");
    const unconfigured = await proxy(connections.none!, "/x");
    assert.equal(unconfigured.status, 400);
    assert.equal(await reasonOf(unconfigured), "proxy_not_configured");
    const missing = await proxy("conn_doesnotexist", "/x");
    assert.equal(missing.status, 404);
    assert.equal(upstream.requests.length, before + 1, "only the admin's call went out");
  });

  test("a rule that refuses the call answers 403 permission_denied with its reason, before any credential is read", async () => {
    const before = upstream.requests.length;
    denyAll = true;
    try {
      const res = await proxy(connections.header!, "/user", { method: "DELETE" });
      assert.equal(res.status, 403);
      const json = (await res.json()) as ErrorBody;
      assert.equal(json.code, "permission_denied");
      assert.equal(json.details[0]?.debug.reason, "proxy_not_allowed");
      assert.match(json.message, /no rule allows DELETE \/user/);
    } finally {
      denyAll = false;
    }
    assert.equal(upstream.requests.length, before);
  });

  test("401 from the provider: one forced refresh and one retry; 429 passes through with Retry-After and no retry", async () => {
    // The provider rotated the token: only the next one works.
    currentAccessToken = "rotated-elsewhere";
    const tokenCallsBefore = tokenCalls;
    const apiBefore = upstream.requests.filter((r) => r.url.startsWith("/api/oauth/")).length;
    const res = await proxy(connections.oauth!, "/me");
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.equal(JSON.parse(text).verified, true);
    assert.equal(tokenCalls, tokenCallsBefore + 1, "one refresh");
    assert.equal(upstream.requests.filter((r) => r.url.startsWith("/api/oauth/")).length, apiBefore + 2, "one retry");
    assertNoSecret(text, "response body");

    // A provider that keeps refusing: the second 401 is the answer, nothing more is tried.
    oauthAlwaysRefuses = true;
    const apiBefore2 = upstream.requests.filter((r) => r.url.startsWith("/api/oauth/")).length;
    const refused = await proxy(connections.oauth!, "/me");
    oauthAlwaysRefuses = false;
    assert.equal(refused.status, 401);
    await refused.text();
    assert.equal(upstream.requests.filter((r) => r.url.startsWith("/api/oauth/")).length, apiBefore2 + 2);
    // The same call again, same token: the provider refused it even fresh, so no refresh this time
    // (an agent cannot drive one provider refresh per call); one request, the 401 passed through.
    oauthAlwaysRefuses = true;
    const tokenCallsBefore2 = tokenCalls;
    const again = await proxy(connections.oauth!, "/me");
    oauthAlwaysRefuses = false;
    assert.equal(again.status, 401);
    await again.text();
    assert.equal(tokenCalls, tokenCallsBefore2, "no second forced refresh for a call already refused with a fresh token");
    assert.equal(upstream.requests.filter((r) => r.url.startsWith("/api/oauth/")).length, apiBefore2 + 3);

    const apiBefore3 = upstream.requests.length;
    const limited = await proxy(connections.header!, "/too-many");
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get("retry-after"), "7");
    assert.equal(await limited.text(), "slow down");
    assert.equal(upstream.requests.length, apiBefore3 + 1, "no retry");
  });

  test("timeouts, unreachable providers and size limits answer with Nexus's error shape", async () => {
    const slow = await proxy(connections.slow!, "/x");
    assert.equal(slow.status, 504);
    assert.equal(await reasonOf(slow), "proxy_upstream_timeout");
    const down = await proxy(connections.down!, "/x");
    assert.equal(down.status, 502);
    assert.equal(await reasonOf(down), "proxy_upstream_unreachable");
    const big = await proxy(connections.header!, "/upload", { method: "PUT", body: Buffer.alloc(3 * 1024 * 1024) });
    assert.equal(big.status, 413);
    assert.equal(await reasonOf(big), "proxy_payload_too_large");
    const signed = await proxy(connections.hmac!, "/upload", { method: "PUT", body: Buffer.alloc(3 * 1024 * 1024) });
    assert.equal(signed.status, 413);
    const bigAnswer = await proxy(connections.header!, "/big");
    assert.equal(bigAnswer.status, 502);
    assert.equal(await reasonOf(bigAnswer), "proxy_payload_too_large");
    // Without a Content-Length the limit is found mid-stream: the answer is cut off, never completed.
    const chunked = await proxy(connections.header!, "/big-chunked");
    assert.equal(chunked.status, 200);
    await assert.rejects(chunked.arrayBuffer());
  });

  test("over HTTP/2 (h2c) too: GET, and a POST whose body has no Content-Length streams through", async () => {
    const session = connectH2(server.baseUrl);
    try {
      const call = (method: string, path: string, body?: string) =>
        new Promise<{ status: number; headers: Record<string, unknown>; text: string }>((resolve, reject) => {
          const stream = session.request({ ":method": method, ":path": path, ...server.auth() }, { endStream: body === undefined });
          const chunks: Buffer[] = [];
          let headers: Record<string, unknown> = {};
          stream.on("response", (h) => {
            headers = h;
          });
          stream.on("data", (c: Buffer) => chunks.push(c));
          stream.on("end", () => resolve({ status: Number(headers[":status"]), headers, text: Buffer.concat(chunks).toString() }));
          stream.on("error", reject);
          if (body !== undefined) stream.end(body);
        });
      const get = await call("GET", `/v1/proxy/${connections.hmac}/h2/get?x=1`);
      assert.equal(get.status, 200, get.text);
      assert.equal((JSON.parse(get.text) as { verified: boolean }).verified, true);
      assert.equal(get.headers["set-cookie"], undefined);
      assert.equal(get.headers["x-provider-header"], "kept");
      const body = "h2-body-".repeat(10_000);
      const post = await call("POST", `/v1/proxy/${connections.header}/h2/post`, body);
      assert.equal(post.status, 200, post.text);
      assert.equal(lastRequest().bodySha256, createHash("sha256").update(body).digest("hex"));
      const signed = await call("POST", `/v1/proxy/${connections.aws}/h2/post`, body);
      assert.equal(signed.status, 200, signed.text);
      assert.equal((JSON.parse(signed.text) as { verified: boolean }).verified, true);
    } finally {
      session.close();
    }
  });

  test("HEAD passes status and headers without a body", async () => {
    const res = await fetch(`${server.baseUrl}/v1/proxy/${connections.basic}/head`, { method: "HEAD", headers: server.auth() });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-provider-header"), "kept");
    assert.equal(lastRequest().method, "HEAD");
  });

  test("a credential the strategy cannot apply answers proxy_credential_not_applicable, naming no value", async () => {
    const before = upstream.requests.length;
    for (const connection of [connections.broken!, connections.missing!]) {
      const res = await proxy(connection, "/x", { method: "POST", body: "{}" });
      assert.equal(res.status, 400);
      const body = (await res.json()) as ErrorBody;
      assert.equal(body.details[0]?.debug.reason, "proxy_credential_not_applicable");
      assert.ok(!body.message.includes("a:b"), body.message);
    }
    assert.equal(upstream.requests.length, before);
  });

  test("a provider that stalls mid-body is cut off by the idle timeout; the call is audited as aborted", async () => {
    const res = await proxy(connections.stall!, "/x");
    assert.equal(res.status, 200);
    await assert.rejects(res.text());
    // The row is written once the server has finished with the call, which the caller may not wait for.
    const rows = await eventualValue(
      async () => {
        await server.app.audit.flush();
        const found = (await server.app.store.listAuditEvents({ action: "proxy.call", connectionId: connections.stall }, { pageSize: 10 }))
          .items;
        return found;
      },
      (found) => found.length > 0,
    );
    assert.equal(rows[0]?.details?.aborted, "true", JSON.stringify(rows));
    assert.equal(rows[0]?.details?.reason, "upstream_timeout");
  });

  test("a caller that goes away mid-body ends the relay; the call is audited as aborted", async () => {
    const requestId = `gone-${randomBytes(6).toString("hex")}`;
    const controller = new AbortController();
    const res = await proxy(connections.stall!, "/gone", { signal: controller.signal, headers: { "x-request-id": requestId } });
    assert.equal(res.status, 200);
    controller.abort();
    await assert.rejects(res.text());
    const rows = await eventualValue(
      async () => {
        await server.app.audit.flush();
        const found = (await server.app.store.listAuditEvents({ action: "proxy.call", connectionId: connections.stall }, { pageSize: 50 }))
          .items;
        return found.filter((row) => row.requestId === requestId);
      },
      (found) => found.length > 0,
    );
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0]?.details?.aborted, "true", JSON.stringify(rows));
    assert.equal(rows[0]?.details?.status, "200");
  });

  test("a 401 to a request whose body cannot be replayed passes through: no refresh, no retry", async () => {
    currentAccessToken = "rotated-again";
    const tokenCallsBefore = tokenCalls;
    const apiBefore = upstream.requests.filter((r) => r.url.startsWith("/api/oauth/")).length;
    const body = "z".repeat(200 * 1024);
    const res = await proxy(connections.oauth!, "/upload", { method: "POST", body });
    assert.equal(res.status, 401);
    await res.text();
    assert.equal(tokenCalls, tokenCallsBefore, "no refresh");
    assert.equal(upstream.requests.filter((r) => r.url.startsWith("/api/oauth/")).length, apiBefore + 1, "no retry");
    // A small body is replayable: refreshed once, retried once, and through.
    const small = await proxy(connections.oauth!, "/upload", { method: "POST", body: "small" });
    assert.equal(small.status, 200, await small.text());
    assert.equal(tokenCalls, tokenCallsBefore + 1);
  });

  test("a response header that echoes the credential is dropped (a redirect carrying ?key=…)", async () => {
    const viaQuery = await proxy(connections.query!, "/echo-redirect", { redirect: "manual" });
    assert.equal(viaQuery.status, 302);
    assert.equal(viaQuery.headers.get("location"), null);
    const viaHeader = await proxy(connections.header!, "/echo-redirect", { redirect: "manual" });
    assert.equal(viaHeader.headers.get("x-echo"), null);
    assertNoSecret(JSON.stringify([...viaQuery.headers, ...viaHeader.headers]), "response headers");
  });

  test("a response header that echoes the Authorization the proxy sent (basic_auth's base64) is dropped", async () => {
    const res = await proxy(connections.basic!, "/echo-auth");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-echo-auth"), null);
    const basic = Buffer.from(`${values.user}:${values.password}`).toString("base64");
    assert.ok(!JSON.stringify([...res.headers]).includes(basic), "response headers leak the Basic credential");
  });

  test("Nexus's refusals carry x-nexus-proxy-refusal: 1; a provider's answer never does (it cannot forge one)", async () => {
    const forged = await proxy(connections.header!, "/forged-refusal");
    assert.equal(forged.status, 400);
    assert.equal(forged.headers.get("x-nexus-proxy-refusal"), null);
    await forged.text();
    const refused = await rawRequest(server.baseUrl, { path: `/v1/proxy/${connections.header}/../x`, headers: server.auth() });
    assert.equal(refused.status, 400);
    assert.equal(refused.headers["x-nexus-proxy-refusal"], "1");
    const noKey = await rawRequest(server.baseUrl, { path: `/v1/proxy/${connections.header}/x` });
    assert.equal(noKey.status, 401);
    assert.equal(noKey.headers["x-nexus-proxy-refusal"], "1");
  });

  test("the provider's CORS headers never come back (Nexus's origin policy decides); its Vary is kept next to Nexus's", async () => {
    const res = await proxy(connections.header!, "/cors-open", { headers: { origin: "https://app.example" } });
    assert.equal(res.status, 200, await res.text());
    assert.equal(res.headers.get("access-control-allow-origin"), "https://app.example");
    assert.equal(res.headers.get("access-control-allow-credentials"), null);
    assert.doesNotMatch(res.headers.get("access-control-expose-headers") ?? "", /\*/);
    assert.equal(res.headers.get("vary"), "origin, accept-encoding");
    const other = await proxy(connections.header!, "/cors-open", { headers: { origin: "https://evil.example" } });
    assert.equal(other.status, 200, await other.text());
    assert.equal(other.headers.get("access-control-allow-origin"), null, "a page of another origin may not read it");
  });

  test("a response body that echoes the credential is cut off before any byte of it leaves; bodies are asked uncompressed", async () => {
    const res = await proxy(connections.header!, "/echo-body", { headers: { "accept-encoding": "gzip" } });
    assert.equal(res.status, 200);
    const received = await res.text().catch(() => "");
    assert.ok(!received.includes(values.header), "the body leaks the credential");
    assert.ok(!received.includes(values.header.slice(0, 10)), "the body leaks the start of the credential");
    // Basic auth's user name (an account id such as Twilio's SID) is in ordinary answers: not screened.
    const upstreamResponder = upstream.respond;
    upstream.respond = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ account: values.user }));
    };
    const account = await proxy(connections.basic!, "/x");
    assert.deepEqual(await account.json(), { account: values.user });
    // An OAuth token set's extras (Salesforce's instance_url) are context, not secrets: not screened.
    const instanceUrl = "https://na1.instance.example.test";
    const withExtra = await seed("px-oauth", {
      kind: "oauth2",
      accessToken: secret("at-extra"),
      tokenType: "Bearer",
      expiresAtSeconds: Math.floor(Date.now() / 1000) + 3600,
      extra: { instance_url: instanceUrl },
    });
    upstream.respond = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ url: instanceUrl }));
    };
    const context = await proxy(withExtra, "/x").finally(() => {
      upstream.respond = upstreamResponder;
    });
    assert.deepEqual(await context.json(), { url: instanceUrl });
    const plain = await proxy(connections.header!, "/plain-body", { headers: { "accept-encoding": "gzip, br" } });
    assert.deepEqual(await plain.json(), { acceptEncoding: "identity" });
    await server.app.audit.flush();
    const rows = (await server.app.store.listAuditEvents({ action: "proxy.call", connectionId: connections.header }, { pageSize: 200 }))
      .items;
    assert.ok(
      rows.some((row) => row.details?.reason === "credential_in_response_body" && row.details?.aborted === "true"),
      JSON.stringify(rows.slice(0, 3)),
    );
  });

  test("TRACE is refused on HTTP/1.1 and HTTP/2 (the provider would echo the request, credential included)", async () => {
    const before = upstream.requests.length;
    const res = await rawRequest(server.baseUrl, { method: "TRACE", path: `/v1/proxy/${connections.header}/x`, headers: server.auth() });
    assert.equal(res.status, 405, res.text);
    assert.equal((JSON.parse(res.text) as ErrorBody).details[0]?.debug.reason, "proxy_not_allowed");
    const session = connectH2(server.baseUrl);
    try {
      const stream = session.request({ ":method": "TRACE", ":path": `/v1/proxy/${connections.header}/x`, ...server.auth() });
      stream.end();
      const [status, text] = await new Promise<[number, string]>((resolve, reject) => {
        let code = 0;
        let body = "";
        stream.on("response", (headers) => {
          code = Number(headers[":status"]);
        });
        stream.setEncoding("utf8");
        stream.on("data", (chunk: string) => {
          body += chunk;
        });
        stream.on("end", () => resolve([code, body]));
        stream.on("error", reject);
      });
      assert.equal(status, 405, text);
      assert.equal((JSON.parse(text) as ErrorBody).details[0]?.debug.reason, "proxy_not_allowed");
    } finally {
      session.close();
    }
    assert.equal(upstream.requests.length, before, "nothing reached the provider");
  });

  test("method and URL override headers (X-HTTP-Method-Override, X-Original-URL) are refused: the rules saw another call", async () => {
    const before = upstream.requests.length;
    for (const [name, value] of [
      ["X-HTTP-Method-Override", "DELETE"],
      ["x-http-method", "DELETE"],
      ["X-Method-Override", "PUT"],
      ["X-Original-URL", "/admin"],
      ["X-Rewrite-URL", "/admin"],
    ] as const) {
      const res = await proxy(connections.header!, "/repos", { headers: { [name]: value } });
      assert.equal(res.status, 403, name);
      const body = (await res.json()) as ErrorBody;
      assert.equal(body.details[0]?.debug.reason, "proxy_not_allowed", name);
      assert.match(body.message, new RegExp(name, "i"));
    }
    assert.equal(upstream.requests.length, before, "nothing reached the provider");
  });

  test("a '#' in the path is refused, not cut off after the rules saw the whole path", async () => {
    const before = upstream.requests.length;
    for (const path of ["/users/#/public", "/repos/x#y"]) {
      const res = await rawRequest(server.baseUrl, { path: `/v1/proxy/${connections.header}${path}`, headers: server.auth() });
      assert.equal(res.status, 400, `${path}: ${res.text}`);
      assert.equal((JSON.parse(res.text) as ErrorBody).details[0]?.debug.reason, "proxy_path_invalid", path);
    }
    assert.equal(upstream.requests.length, before);
  });

  test("the same request gets the same answer", async () => {
    const answers = [];
    for (let i = 0; i < 3; i++) {
      const res = await rawRequest(server.baseUrl, { path: `/v1/proxy/${connections.header}/a/../b`, headers: server.auth() });
      answers.push([res.status, res.text]);
    }
    assert.deepEqual(answers[0], answers[1]);
    assert.deepEqual(answers[1], answers[2]);
  });

  test("every call is audited (ids, provider, rule, status, bytes; no query values, bodies or headers); metrics count them", async () => {
    const marker = secret("querymarker");
    const res = await proxy(connections.query!, `/search?q=${marker}`, { method: "POST", body: "x".repeat(100) });
    assert.equal(res.status, 200, await res.text());
    await server.app.audit.flush();
    const page = await server.app.store.listAuditEvents({ action: "proxy.call", connectionId: connections.query }, { pageSize: 100 });
    const row = page.items.find((e) => e.details?.bytes_in === "100");
    assert.ok(row, JSON.stringify(page.items));
    assert.equal(row.result, "200");
    assert.equal(row.tenantId, TEST_TENANT);
    assert.ok(row.keyId);
    assert.equal(row.details?.provider, "px-query");
    assert.equal(row.details?.method, "POST");
    assert.equal(row.details?.rule, "test-allow");
    assert.equal(row.details?.aborted, undefined, "a complete answer is not counted as cut off");
    assert.ok(Number(row.details?.bytes_out) > 0);
    assert.ok(row.details?.duration_ms !== undefined);
    const all = await server.app.store.listAuditEvents({ action: "proxy.call" }, { pageSize: 1000 });
    const text = JSON.stringify(all.items);
    assert.ok(!text.includes(marker), "no query values in audit rows");
    assertNoSecret(text, "audit rows");
    assertNoSecret(server.logs(), "logs");
    // Refusals are audited too (rule denied, path invalid, not found).
    assert.ok(all.items.some((e) => e.details?.reason === "proxy_path_invalid"));
    assert.ok(all.items.some((e) => e.result === "403"));
    assert.ok((await metricValue(server.app.registry, "nexus_proxy_requests_total", { provider: "px-query", status_class: "2xx" })) >= 2);
    assert.ok((await metricValue(server.app.registry, "nexus_proxy_requests_total", { provider: "px-slow", status_class: "5xx" })) >= 1);
  });
});
