/**
 * The proxy streams with back-pressure: a 100 MB upload and a 100 MB download pass through a real
 * server to a local provider while this process's memory stays flat. Caller, Nexus and provider
 * share this process, and none of them holds a body: the caller generates chunks on demand, the
 * provider hashes and drops them. Every 2 MB the garbage is collected and the live heap plus
 * buffers sampled (no timers); its peak growth must stay far below the 100 MB that buffering either
 * body would cost.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { request } from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { after, before, describe, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { credentialAad, encodeStoredSecret } from "../server/domain/stored-secret.ts";
import { type ProxyUpstream, startProxyUpstream } from "./support/proxy-upstream.ts";
import { startServer, TEST_TENANT, type TestServer } from "./support/start-server.ts";

setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

const TOTAL = 100 * 1024 * 1024;
const CHUNK = 64 * 1024;
/** Peak growth of live memory (heap and buffers after a collection) allowed while 100 MB pass: a buffered body alone would be 100 MB. */
const MAX_GROWTH = 40 * 1024 * 1024;

/** 100 MB of a repeated random chunk, produced only as fast as it is read. */
function generated(chunk: Buffer, onChunk: () => void): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= TOTAL) {
        this.push(null);
        return;
      }
      sent += chunk.length;
      onChunk();
      this.push(chunk);
    },
  });
}

describe("proxy streaming: 100 MB each way with flat memory", () => {
  let server: TestServer;
  let upstream: ProxyUpstream;
  let connectionId = "";
  const chunk = randomBytes(CHUNK);
  let peak = 0;
  let samples = 0;
  /** Every 2 MB: a full collection, then the live heap plus buffers (garbage is not growth). */
  const sample = () => {
    if (++samples % 32 !== 0) return;
    collectGarbage();
    const m = process.memoryUsage();
    peak = Math.max(peak, m.heapUsed + m.arrayBuffers);
  };

  before(async () => {
    upstream = await startProxyUpstream();
    upstream.keepBodyBytes = 0;
    // The test agent key has no proxy rules: its tenant is opened to the proxy.
    server = await startServer({ env: { NEXUS_PROXY_OPEN_TENANTS: TEST_TENANT } });
    const res = await fetch(`${server.baseUrl}/v1/providers`, {
      method: "POST",
      headers: { "content-type": "application/json", ...server.auth(server.adminKey) },
      body: JSON.stringify({
        name: "bulk",
        auth_type: "api_key",
        credential_schema: { type: "object", properties: { api_key: { type: "string", title: "Key" } }, required: ["api_key"] },
        strategy: { type: "header", header: { header_name: "X-Api-Key" } },
        api_base_url: `${upstream.origin}/bulk`,
      }),
    });
    assert.equal(res.status, 200, await res.text());
    const { store, vault } = server.app;
    const connection = await store.createConnection({ tenantId: TEST_TENANT, userId: "u", providerName: "bulk", status: "active" });
    await store.saveCredential(connection.id, 0, {
      secret: vault.seal(encodeStoredSecret({ kind: "fields", fields: { api_key: "bulk-key" } }), credentialAad(connection.id, 1)),
      expiresAtSeconds: null,
    });
    connectionId = connection.id;
  });
  after(async () => {
    await server?.close();
    await upstream?.close();
  });

  function resetPeak(): number {
    collectGarbage();
    const m = process.memoryUsage();
    peak = m.heapUsed + m.arrayBuffers;
    return peak;
  }

  test("a 100 MB chunked upload reaches the provider whole, memory flat", async (t) => {
    const expected = createHash("sha256");
    for (let sent = 0; sent < TOTAL; sent += CHUNK) expected.update(chunk);
    const baseline = resetPeak();
    const base = new URL(server.baseUrl);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: base.hostname,
          port: base.port,
          method: "PUT",
          path: `/v1/proxy/${connectionId}/upload`,
          headers: { ...server.auth(), "content-type": "application/octet-stream" },
          agent: false,
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", reject);
      pipeline(generated(chunk, sample), req).catch(reject);
    });
    assert.equal(status, 200);
    const seen = upstream.requests.at(-1);
    assert.equal(seen?.bodyLength, TOTAL);
    assert.equal(seen?.bodySha256, expected.digest("hex"));
    assert.equal(seen?.headers["x-api-key"], "bulk-key");
    const growth = peak - baseline;
    t.diagnostic(`live memory growth during the upload: ${(growth / 1048576).toFixed(1)} MB`);
    assert.ok(growth < MAX_GROWTH, `live memory grew ${(growth / 1048576).toFixed(1)} MB during a 100 MB upload`);
  });

  test("a 100 MB download streams back whole, memory flat", async (t) => {
    upstream.respond = (_req, res) => {
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(TOTAL) });
      void pipeline(generated(chunk, sample), res).catch(() => undefined);
    };
    const baseline = resetPeak();
    const res = await fetch(`${server.baseUrl}/v1/proxy/${connectionId}/download`, { headers: server.auth() });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-length"), String(TOTAL));
    let received = 0;
    for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
      received += part.length;
      sample();
    }
    assert.equal(received, TOTAL);
    const growth = peak - baseline;
    t.diagnostic(`live memory growth during the download: ${(growth / 1048576).toFixed(1)} MB`);
    assert.ok(growth < MAX_GROWTH, `live memory grew ${(growth / 1048576).toFixed(1)} MB during a 100 MB download`);
  });
});
