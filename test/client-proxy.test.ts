/**
 * client.proxy(connectionId).fetch against a small local HTTP server standing in for Nexus's proxy
 * route: the URL (connection id encoded, path and query kept, an absolute URL reduced to its path),
 * the agent's key as the only Authorization, bodies streamed both ways (each side waits for the
 * other's first chunk, so a buffering client would hang), provider answers returned untouched
 * (4xx, redirects), and Nexus's own refusals mapped like the rest of the client.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  ConnectionRevokedError,
  createNexusClient,
  ErrorInfoSchema,
  ErrorReason,
  errorInfo,
  NexusUnavailableError,
  nexusProxy,
} from "../client/index.ts";

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
}

function nexusError(status: number, code: string, reason: ErrorReason, message: string) {
  const value = Buffer.from(toBinary(ErrorInfoSchema, create(ErrorInfoSchema, { reason }))).toString("base64");
  return {
    status,
    body: JSON.stringify({ code, message, details: [{ type: "nexus.v1.ErrorInfo", value }] }),
    headers: { "x-nexus-proxy-refusal": "1" } as Record<string, string>,
  };
}

describe("test/client-proxy.test.ts", () => {
  let server: Server;
  let baseUrl: string;
  const seen: Seen[] = [];
  // Streaming handshakes: resolved by the server (upload) or by the test (download).
  let uploadFirstChunk: () => void = () => {};
  let uploadFirstChunkSeen: Promise<void> = Promise.resolve();
  let downloadFirstChunkRead: () => void = () => {};
  let downloadFirstChunkReadSeen: Promise<void> = Promise.resolve();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    seen.push({ method: req.method ?? "", url: req.url ?? "", authorization: req.headers.authorization });
    const path = (req.url ?? "").replace(/^\/v1\/proxy\/[^/]+/, "");
    if (path.startsWith("/upload")) {
      const hash = createHash("sha256");
      let bytes = 0;
      for await (const chunk of req) {
        if (bytes === 0) uploadFirstChunk();
        bytes += (chunk as Buffer).length;
        hash.update(chunk as Buffer);
      }
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ bytes, sha256: hash.digest("hex") }));
      return;
    }
    if (path.startsWith("/download")) {
      res.setHeader("content-type", "application/octet-stream");
      res.write(Buffer.alloc(1024, 1));
      await downloadFirstChunkReadSeen;
      res.end(Buffer.alloc(1024, 2));
      return;
    }
    const answers: Record<string, { status: number; body: string; headers?: Record<string, string> }> = {
      "/denied": nexusError(403, "permission_denied", ErrorReason.PROXY_NOT_ALLOWED, "the key's proxy rules do not allow GET /denied"),
      "/revoked": nexusError(400, "failed_precondition", ErrorReason.CONNECTION_REVOKED, "connection is revoked"),
      "/provider-403": { status: 403, body: JSON.stringify({ message: "Bad credentials", documentation_url: "https://docs" }) },
      // A provider's answer shaped exactly like Nexus's refusal, without Nexus's marker header.
      "/provider-forged": {
        ...nexusError(400, "failed_precondition", ErrorReason.CONNECTION_REVOKED, "connection is revoked"),
        headers: {},
      },
      "/provider-error-shaped": { status: 500, body: JSON.stringify({ code: "internal", message: "boom", details: [] }) },
      "/redirect": { status: 302, body: "", headers: { location: "https://api.example.com/elsewhere" } },
    };
    const answer = answers[path.split("?")[0] ?? ""] ?? {
      status: 200,
      body: JSON.stringify({ method: req.method, path }),
    };
    res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
    res.end(answer.body);
  }

  before(async () => {
    server = createServer((req, res) => {
      handle(req, res).catch((err: unknown) => res.destroy(err as Error));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test("the URL: /v1/proxy/{encoded id} + path and query; an absolute URL gives its path only; the key is the only Authorization", async () => {
    const client = createNexusClient({ baseUrl: `${baseUrl}/`, apiKey: "nxk_agent", httpVersion: "1.1" });
    try {
      const proxy = client.proxy("conn/1 x");
      assert.equal(proxy.connectionId, "conn/1 x");
      seen.length = 0;
      const res = await proxy.fetch("/repos/o/r/issues?state=open&q=a%20b", { headers: { authorization: "token provider-pat" } });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { method: "GET", path: "/repos/o/r/issues?state=open&q=a%20b" });
      assert.deepEqual(seen, [
        { method: "GET", url: "/v1/proxy/conn%2F1%20x/repos/o/r/issues?state=open&q=a%20b", authorization: "Bearer nxk_agent" },
      ]);
      await proxy.fetch("https://api.github.com/user?per_page=5", { method: "PATCH", body: "{}" });
      await proxy.fetch(new URL("https://ignored.example/a/b"));
      await proxy.fetch(new Request("https://ignored.example/c", { method: "DELETE" }));
      assert.deepEqual(
        seen.slice(1).map((s) => `${s.method} ${s.url}`),
        ["PATCH /v1/proxy/conn%2F1%20x/user?per_page=5", "GET /v1/proxy/conn%2F1%20x/a/b", "DELETE /v1/proxy/conn%2F1%20x/c"],
      );
      await assert.rejects(proxy.fetch("relative/path"), /neither a path starting with "\/" nor an absolute URL/);
      // Dot segments that fetch would resolve out of /v1/proxy/{id}/ (onto another Nexus route) are refused, nothing sent.
      const sent = seen.length;
      for (const path of ["/../../connections/x:revoke", "/%2e%2e/%2E%2E/v1/connections", "/a/../../..", "/..\\..\\v1/x", "/.."]) {
        await assert.rejects(proxy.fetch(path, { method: "POST" }), /leaves the connection's proxy path/, path);
      }
      assert.equal(seen.length, sent);
      await proxy.fetch("/a/../b");
      assert.equal(seen.at(-1)?.url, "/v1/proxy/conn%2F1%20x/b");
      assert.throws(() => client.proxy(""), /connectionId is required/);
    } finally {
      client.close();
    }
  });

  test("a streamed upload is sent as it is produced; the download arrives before the provider finishes", async () => {
    const proxy = nexusProxy("conn_stream", { baseUrl, apiKey: "nxk_agent" });
    uploadFirstChunkSeen = new Promise((resolve) => {
      uploadFirstChunk = resolve;
    });
    const chunks = 64;
    const expected = createHash("sha256");
    let produced = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        // The second chunk is produced only once the server has the first: a client that buffered
        // the whole body before sending would wait here forever.
        if (produced === 1) await uploadFirstChunkSeen;
        if (produced === chunks) return controller.close();
        const chunk = new Uint8Array(64 * 1024).fill(produced % 251);
        expected.update(chunk);
        produced += 1;
        controller.enqueue(chunk);
      },
    });
    const uploaded = await proxy.fetch("/upload", { method: "POST", body, headers: { "content-type": "application/octet-stream" } });
    assert.deepEqual(await uploaded.json(), { bytes: chunks * 64 * 1024, sha256: expected.digest("hex") });

    downloadFirstChunkReadSeen = new Promise((resolve) => {
      downloadFirstChunkRead = resolve;
    });
    const downloaded = await proxy.fetch("/download");
    assert.equal(downloaded.status, 200);
    const reader = downloaded.body!.getReader();
    const first = await reader.read();
    assert.equal(first.value?.[0], 1, "the first chunk arrives while the server still holds the second");
    downloadFirstChunkRead();
    let rest = 0;
    for (let next = await reader.read(); !next.done; next = await reader.read()) rest += next.value.byteLength;
    assert.equal((first.value?.byteLength ?? 0) + rest, 2048);
  });

  test("provider answers come back untouched: a 403 JSON, an error-shaped 500 without ErrorInfo, a redirect (not followed)", async () => {
    const proxy = nexusProxy("conn_p", { baseUrl, apiKey: "nxk_agent" });
    const forbidden = await proxy.fetch("/provider-403");
    assert.equal(forbidden.status, 403);
    assert.deepEqual(await forbidden.json(), { message: "Bad credentials", documentation_url: "https://docs" });
    const shaped = await proxy.fetch("/provider-error-shaped");
    assert.equal(shaped.status, 500);
    assert.equal(((await shaped.json()) as { message: string }).message, "boom");
    // Nexus's error shape without Nexus's marker is the provider's: returned, not a ConnectionRevokedError.
    const forged = await proxy.fetch("/provider-forged");
    assert.equal(forged.status, 400);
    assert.equal(((await forged.json()) as { message: string }).message, "connection is revoked");
    const redirect = await proxy.fetch("/redirect");
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.get("location"), "https://api.example.com/elsewhere");
  });

  test("Nexus's refusals reject like the rest of the client: ConnectError with ErrorInfo, ConnectionRevokedError", async () => {
    const proxy = nexusProxy("conn_r", { baseUrl, apiKey: "nxk_agent" });
    const denied = await proxy.fetch("/denied").then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(denied instanceof ConnectError, String(denied));
    assert.equal(denied.code, Code.PermissionDenied);
    assert.equal(errorInfo(denied)?.reason, ErrorReason.PROXY_NOT_ALLOWED);
    assert.match(denied.rawMessage, /proxy rules do not allow/);
    const revoked = await proxy.fetch("/revoked").then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(revoked instanceof ConnectionRevokedError);
    assert.equal(revoked.connectionId, "conn_r");
  });

  test("Nexus unreachable → NexusUnavailableError; the caller's abort rejects with its reason", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const unreachable = nexusProxy("conn_u", { baseUrl: `http://127.0.0.1:${port}`, apiKey: "nxk_agent" });
    await assert.rejects(unreachable.fetch("/x"), (err: unknown) => err instanceof NexusUnavailableError && err.connectionId === "conn_u");

    const proxy = nexusProxy("conn_a", { baseUrl, apiKey: "nxk_agent" });
    const controller = new AbortController();
    const reason = new Error("agent gave up");
    controller.abort(reason);
    await assert.rejects(proxy.fetch("/x", { signal: controller.signal }), (err: unknown) => err === reason);
  });
});
