/**
 * nexusFetch against a local provider that accepts only the connection's current token: a stale
 * token costs exactly one forced refresh and one retry with the same body; nothing loops.
 */
import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, test } from "node:test";
import { ConnectionRevokedError, createNexusClient, type NexusClient, nexusFetch } from "../client/index.ts";
import { ConnectionStatus } from "../gen/nexus/v1/status_pb.ts";
import { memoryLogger } from "./support/client-test-kit.ts";
import { type ScriptedNexus, startScriptedNexus } from "./support/scripted-nexus.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/client-fetch.test.ts", () => {
  let nexus: ScriptedNexus;
  let client: NexusClient;
  let provider: http.Server;
  let providerUrl: string;
  let received: Array<{ authorization: string | undefined; body: string; method: string }>;
  let alwaysReject: boolean;

  beforeEach(async () => {
    nexus = await startScriptedNexus();
    nexus.addConnection("c");
    client = createNexusClient({ baseUrl: nexus.baseUrl, apiKey: "key-1" });
    received = [];
    alwaysReject = false;
    provider = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({ authorization: req.headers.authorization, body: Buffer.concat(chunks).toString(), method: req.method ?? "" });
        const current = `Bearer tok-c-v${nexus.credential("c").version}`;
        const ok = !alwaysReject && req.headers.authorization === current;
        res.writeHead(ok ? 200 : 401, { "content-type": "application/json" });
        res.end(JSON.stringify({ ok }));
      });
    });
    await new Promise<void>((resolve) => provider.listen(0, "127.0.0.1", resolve));
    providerUrl = `http://127.0.0.1:${(provider.address() as AddressInfo).port}/api`;
  });
  afterEach(async () => {
    client.close();
    provider.closeAllConnections();
    await new Promise((resolve) => provider.close(resolve));
    await nexus.close();
  });

  test("a fresh credential goes straight through", async () => {
    const response = await client.fetch("c")(providerUrl);
    assert.equal(response.status, 200);
    assert.equal(received.length, 1);
    assert.equal(nexus.calls.refreshConnection, 0);
  });

  test("a provider 401 forces exactly one refresh and one retry, replaying the same body", async () => {
    await client.getCredential("c"); // cache v1
    nexus.rotate("c"); // the provider now wants v2; the cache still says v1
    const response = await client.fetch("c")(providerUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ n: 1 }),
    });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { ok: true });
    assert.equal(nexus.calls.refreshConnection, 1);
    assert.deepEqual(
      received.map((r) => [r.authorization, r.body]),
      [
        ["Bearer tok-c-v1", '{"n":1}'],
        ["Bearer tok-c-v3", '{"n":1}'], // RefreshConnection rotated v2 → v3
      ],
    );
  });

  test("a streamed request body is buffered so the retry can replay it", async () => {
    await client.getCredential("c");
    nexus.rotate("c");
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("part1-"));
        controller.enqueue(new TextEncoder().encode("part2"));
        controller.close();
      },
    });
    const response = await client.fetch("c")(providerUrl, { method: "PUT", body: stream, duplex: "half" } as RequestInit);
    assert.equal(response.status, 200);
    assert.deepEqual(
      received.map((r) => r.body),
      ["part1-part2", "part1-part2"],
    );
  });

  test("a provider that keeps saying 401 gets one retry, not a loop", async () => {
    alwaysReject = true;
    const logger = memoryLogger();
    const response = await nexusFetch("c", { credentials: client.credentials, logger })(providerUrl);
    assert.equal(response.status, 401);
    assert.equal(received.length, 2);
    assert.equal(nexus.calls.refreshConnection, 1);
    assert.ok(!logger.lines.join("\n").includes("tok-c-"), "no token in logs");
  });

  test("when the refresh yields no newer version the 401 is returned without a retry", async () => {
    nexus.refreshMode = "unimplemented"; // falls back to GetToken, which returns the same v1
    alwaysReject = true;
    const response = await client.fetch("c")(providerUrl);
    assert.equal(response.status, 401);
    assert.deepEqual(await response.json(), { ok: false }, "the original response body is intact");
    assert.equal(received.length, 1);
  });

  test("revoked during the forced refresh rejects with ConnectionRevokedError", async () => {
    await client.getCredential("c");
    nexus.setStatus("c", ConnectionStatus.REVOKED);
    alwaysReject = true; // the provider revoked the token too
    await assert.rejects(client.fetch("c")(providerUrl), ConnectionRevokedError);
    assert.equal(received.length, 1);
  });

  test("a custom fetch and auth-failure rule are honoured", async () => {
    const seen: string[] = [];
    const customFetch: typeof fetch = async (input, init) => {
      seen.push(new Request(input, init).headers.get("authorization") ?? "");
      return new Response("nope", { status: 403 });
    };
    const response = await nexusFetch("c", {
      credentials: client.credentials,
      fetch: customFetch,
      isAuthFailure: (r) => r.status === 403,
    })("https://provider.invalid/x");
    assert.equal(response.status, 403);
    assert.deepEqual(seen, ["Bearer tok-c-v1", "Bearer tok-c-v2"]);
  });
});
