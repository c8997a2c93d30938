/**
 * applyCredential for all six strategies, checked by servers that verify them independently:
 * fetch Requests against an HTTP server, WebSocket handshakes against a ws server, and RPC
 * metadata. SigV4 is verified by re-signing with @smithy/signature-v4, HMAC by recomputing it.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { create, type JsonObject, type MessageInitShape } from "@bufbuild/protobuf";
import { Hash } from "@smithy/hash-node";
import { SignatureV4 } from "@smithy/signature-v4";
import { WebSocket, WebSocketServer } from "ws";
import { applyCredential, StrategyError } from "../client/index.ts";
import {
  type Credential,
  CredentialSchema,
  HmacAlgorithm,
  HmacEncoding,
  type StrategySchema,
  StrategyType,
} from "../gen/nexus/v1/credential_pb.ts";
import { manualClock } from "./support/client-test-kit.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/client-strategies.test.ts", () => {
  interface Case {
    name: string;
    strategy: MessageInitShape<typeof StrategySchema>;
    credentials: JsonObject;
    /** Checks a received request; returns why it fails, or undefined. */
    verify(request: {
      method: string;
      url: URL;
      headers: http.IncomingHttpHeaders;
      body: Buffer;
    }): Promise<string | undefined> | string | undefined;
    /** Whether it can ride in RPC metadata. */
    isMetadataCapable: boolean;
  }

  const AWS = { access_key: "AKIDEXAMPLE", secret_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", session_token: "session/token+1" };

  const cases: Case[] = [
    {
      name: "oauth2",
      strategy: { type: StrategyType.OAUTH2 },
      credentials: { access_token: "at-1", expires_at: 123 },
      verify: ({ headers }) => (headers.authorization === "Bearer at-1" ? undefined : `authorization ${headers.authorization}`),
      isMetadataCapable: true,
    },
    {
      name: "header (configured)",
      strategy: {
        type: StrategyType.HEADER,
        config: { case: "header", value: { headerName: "X-Api-Key", credentialField: "key", valuePrefix: "Token " } },
      },
      credentials: { key: "k-1" },
      verify: ({ headers }) => (headers["x-api-key"] === "Token k-1" ? undefined : `x-api-key ${headers["x-api-key"]}`),
      isMetadataCapable: true,
    },
    {
      name: "header (defaults)",
      strategy: { type: StrategyType.HEADER },
      credentials: { api_key: "k-2" },
      verify: ({ headers }) => (headers.authorization === "k-2" ? undefined : `authorization ${headers.authorization}`),
      isMetadataCapable: true,
    },
    {
      name: "query_param",
      strategy: { type: StrategyType.QUERY_PARAM, config: { case: "queryParam", value: { paramName: "key", credentialField: "token" } } },
      credentials: { token: "q 1&x" },
      verify: ({ url }) =>
        url.searchParams.get("key") === "q 1&x" && url.searchParams.get("keep") === "yes" ? undefined : `query ${url.search}`,
      isMetadataCapable: false,
    },
    {
      name: "basic_auth",
      strategy: { type: StrategyType.BASIC_AUTH },
      credentials: { username: "user", password: "p:ss wörd" },
      verify: ({ headers }) => {
        const [scheme, encoded] = (headers.authorization ?? "").split(" ");
        return scheme === "Basic" && Buffer.from(encoded ?? "", "base64").toString("utf8") === "user:p:ss wörd" ? undefined : "basic";
      },
      isMetadataCapable: true,
    },
    {
      name: "hmac_payload (sha256 hex)",
      strategy: { type: StrategyType.HMAC_PAYLOAD, config: { case: "hmacPayload", value: { headerName: "X-Signature" } } },
      credentials: { api_secret: "s3cr3t" },
      verify: ({ headers, body }) =>
        headers["x-signature"] === createHmac("sha256", "s3cr3t").update(body).digest("hex") ? undefined : "hmac",
      isMetadataCapable: false,
    },
    {
      name: "hmac_payload (sha1 base64)",
      strategy: {
        type: StrategyType.HMAC_PAYLOAD,
        config: {
          case: "hmacPayload",
          value: { headerName: "X-Hub-Signature", secretField: "secret", algorithm: HmacAlgorithm.SHA1, encoding: HmacEncoding.BASE64 },
        },
      },
      credentials: { secret: "other" },
      verify: ({ headers, body }) =>
        headers["x-hub-signature"] === createHmac("sha1", "other").update(body).digest("base64") ? undefined : "hmac",
      isMetadataCapable: false,
    },
    {
      name: "aws_sigv4",
      strategy: { type: StrategyType.AWS_SIGV4, config: { case: "awsSigv4", value: { service: "execute-api", region: "eu-west-1" } } },
      credentials: AWS,
      verify: verifySigV4,
      isMetadataCapable: true,
    },
    {
      name: "aws_sigv4 (default region, no session token)",
      strategy: { type: StrategyType.AWS_SIGV4, config: { case: "awsSigv4", value: { service: "s3" } } },
      credentials: { access_key: AWS.access_key, secret_key: AWS.secret_key },
      verify: verifySigV4,
      isMetadataCapable: true,
    },
  ];

  /** Re-signs the received request with the AWS SDK signer and compares the Authorization header. */
  async function verifySigV4({
    method,
    url,
    headers,
    body,
  }: {
    method: string;
    url: URL;
    headers: http.IncomingHttpHeaders;
    body: Buffer;
  }) {
    const authorization = headers.authorization ?? "";
    const match =
      /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=[0-9a-f]{64}$/.exec(
        authorization,
      );
    if (!match) return `malformed authorization ${authorization}`;
    const [, accessKey, region, service, signedHeaderList] = match as unknown as [string, string, string, string, string];
    if (accessKey !== AWS.access_key) return "access key";
    const signedHeaders: Record<string, string> = {};
    for (const name of signedHeaderList.split(";")) {
      const value = headers[name];
      if (value === undefined) return `signed header ${name} missing`;
      signedHeaders[name] = Array.isArray(value) ? value.join(",") : value;
    }
    if (!signedHeaderList.split(";").includes("host")) return "host not signed";
    const isUnsignedPayload = signedHeaders["x-amz-content-sha256"] === "UNSIGNED-PAYLOAD";
    // Make the signer hash the body we actually received.
    if (!isUnsignedPayload) delete signedHeaders["x-amz-content-sha256"];
    const amzDate = signedHeaders["x-amz-date"] ?? "";
    const signingDate = new Date(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, "$1-$2-$3T$4:$5:$6Z"));
    const sessionToken = signedHeaders["x-amz-security-token"];
    const signer = new SignatureV4({
      service,
      region,
      credentials: { accessKeyId: AWS.access_key, secretAccessKey: AWS.secret_key, ...(sessionToken ? { sessionToken } : {}) },
      sha256: Hash.bind(null, "sha256"),
    });
    const query: Record<string, string | string[]> = {};
    for (const name of new Set(url.searchParams.keys())) {
      const values = url.searchParams.getAll(name);
      query[name] = values.length === 1 ? values[0]! : values;
    }
    const resigned = await signer.sign(
      {
        method,
        protocol: "http:",
        hostname: url.hostname,
        port: Number(url.port),
        path: url.pathname,
        query,
        headers: signedHeaders,
        ...(isUnsignedPayload ? {} : { body: new Uint8Array(body) }),
      },
      { signingDate },
    );
    return resigned.headers["authorization"] === authorization ? undefined : "signature mismatch";
  }

  function credentialFor(c: Case): Credential {
    return create(CredentialSchema, { strategy: c.strategy, credentials: c.credentials, connectionId: "c", version: 1n });
  }

  let server: http.Server;
  let wss: WebSocketServer;
  let base: string;
  const caseByPath = new Map(cases.map((c, i) => [`/verify/${i}`, c]));

  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", async () => {
        const url = new URL(req.url ?? "/", `http://${req.headers.host}`);
        const c = caseByPath.get(url.pathname.replace(/\/sub%20path$/, ""));
        const failure = c
          ? await c.verify({ method: req.method ?? "GET", url, headers: req.headers, body: Buffer.concat(chunks) })
          : "no case";
        res.writeHead(failure ? 401 : 200, { "content-type": "text/plain" });
        res.end(failure ?? "ok");
      });
    });
    wss = new WebSocketServer({
      server,
      verifyClient: (info, done) => {
        const url = new URL(info.req.url ?? "/", `http://${info.req.headers.host}`);
        const c = caseByPath.get(url.pathname);
        void Promise.resolve(c ? c.verify({ method: "GET", url, headers: info.req.headers, body: Buffer.alloc(0) }) : "no case").then(
          (failure) => done(!failure, 401),
        );
      },
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    wss.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  cases.forEach((c, i) => {
    test(`${c.name}: a fetch Request is authenticated and verified by the server`, async () => {
      const clock = manualClock(Date.UTC(2026, 0, 2, 3, 4, 5));
      const original = new Request(`${base}/verify/${i}/sub%20path?keep=yes&multi=1&multi=2`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-extra": "1" },
        body: JSON.stringify({ hello: "wörld" }),
      });
      const authenticated = await applyCredential(credentialFor(c), original, { clock });
      // Pure: the original is untouched and still readable.
      assert.equal(original.headers.get("authorization"), null);
      assert.equal(await original.text(), '{"hello":"wörld"}');
      assert.notEqual(authenticated, original);
      const response = await fetch(authenticated);
      assert.equal(response.status, 200, await response.text());
    });

    test(`${c.name}: a WebSocket handshake is authenticated and accepted`, async () => {
      const { url, headers } = await applyCredential(credentialFor(c), { url: `${base.replace("http", "ws")}/verify/${i}?keep=yes` });
      const socket = new WebSocket(url, { headers: Object.fromEntries(headers) });
      const outcome = await new Promise<string>((resolve) => {
        socket.on("open", () => resolve("open"));
        socket.on("unexpected-response", (_req, res) => resolve(`http ${res.statusCode}`));
        socket.on("error", (err) => resolve(`error ${err.message}`));
      });
      socket.terminate();
      assert.equal(outcome, "open");
    });

    test(`${c.name}: RPC metadata ${c.isMetadataCapable ? "is authenticated" : "is refused with StrategyError"}`, async () => {
      const rpcUrl = `${base}/verify/${i}`;
      const metadata = new Headers({ "content-type": "application/grpc" });
      if (!c.isMetadataCapable) {
        await assert.rejects(applyCredential(credentialFor(c), metadata, { url: rpcUrl }), StrategyError);
        return;
      }
      const applied = await applyCredential(credentialFor(c), metadata, { url: rpcUrl });
      assert.equal(metadata.get("authorization"), null, "input headers untouched");
      const response = await fetch(rpcUrl, { method: "POST", headers: applied, body: "opaque grpc frame" });
      assert.equal(response.status, 200, await response.text());
    });
  });

  test("a credential that cannot be applied fails with StrategyError naming the field, never the value", async () => {
    const request = new Request("https://api.example.com/");
    const missing = create(CredentialSchema, { strategy: { type: StrategyType.OAUTH2 }, credentials: { token: "super-secret" } });
    await assert.rejects(applyCredential(missing, request), (err: unknown) => {
      assert.ok(err instanceof StrategyError);
      assert.equal(err.field, "access_token");
      assert.ok(!err.message.includes("super-secret"));
      return true;
    });
    const noParam = create(CredentialSchema, { strategy: { type: StrategyType.QUERY_PARAM }, credentials: { api_key: "x" } });
    await assert.rejects(applyCredential(noParam, request), (err: unknown) => err instanceof StrategyError && err.field === "param_name");
    const unknown = create(CredentialSchema, { strategy: { type: 99 as StrategyType }, credentials: {} });
    await assert.rejects(applyCredential(unknown, request), StrategyError);
    const none = create(CredentialSchema, {});
    await assert.rejects(applyCredential(none, request), StrategyError);
    const colon = create(CredentialSchema, {
      strategy: { type: StrategyType.BASIC_AUTH },
      credentials: { username: "a:b", password: "p" },
    });
    await assert.rejects(applyCredential(colon, request), StrategyError);
  });

  test("hmac_payload on metadata works when the body is given", async () => {
    const c = cases.find((x) => x.name === "hmac_payload (sha256 hex)")!;
    const body = new TextEncoder().encode("frame");
    const headers = await applyCredential(credentialFor(c), new Headers(), { url: "https://svc/x", body });
    assert.equal(headers.get("x-signature"), createHmac("sha256", "s3cr3t").update(body).digest("hex"));
  });

  test("the verifying server rejects tampered bodies and wrong credentials (the checks can fail)", async () => {
    for (const name of ["aws_sigv4", "hmac_payload (sha256 hex)"]) {
      const i = cases.findIndex((x) => x.name === name);
      const signed = await applyCredential(
        credentialFor(cases[i]!),
        new Request(`${base}/verify/${i}`, { method: "POST", body: "original" }),
      );
      const tampered = new Request(signed.url, { method: "POST", headers: signed.headers, body: "tampered" });
      assert.equal((await fetch(tampered)).status, 401, `${name} tampered body must be rejected`);
    }
    const i = cases.findIndex((x) => x.name === "oauth2");
    const wrong = create(CredentialSchema, { strategy: { type: StrategyType.OAUTH2 }, credentials: { access_token: "at-2" } });
    assert.equal((await fetch(await applyCredential(wrong, new Request(`${base}/verify/${i}`)))).status, 401);

    const defaults = cases.find((x) => x.name === "aws_sigv4 (default region, no session token)")!;
    const signed = await applyCredential(credentialFor(defaults), new Request("https://bucket.example.com/key"));
    assert.match(signed.headers.get("authorization") ?? "", /\/us-east-1\/s3\/aws4_request/);
    assert.equal(signed.headers.get("x-amz-security-token"), null);
    assert.equal(signed.headers.get("host"), null, "host is left to fetch");
  });
});
