import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { FormRequestError, readFormRequest } from "./form-request.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("server/capture/form-request.test.ts", () => {
  let server: http.Server;
  let port = 0;
  const ORIGIN = "https://nexus.example.com";

  before(async () => {
    server = http.createServer((req, res) => {
      readFormRequest(req, { expectedOrigin: ORIGIN, maxBytes: 1024 }).then(
        (form) => {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify([...form]));
        },
        (err: unknown) => {
          res.writeHead(err instanceof FormRequestError ? err.status : 500);
          res.end(err instanceof Error ? err.message : "");
        },
      );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  // Sends the body in chunks without Content-Length, so only the streaming limit can catch it.
  function postChunked(chunks: string[], headers: Record<string, string>): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request({ port, host: "127.0.0.1", method: "POST", path: "/", headers }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
      for (const chunk of chunks) req.write(chunk);
      req.end();
    });
  }

  const FORM = { origin: ORIGIN, "content-type": "application/x-www-form-urlencoded;charset=UTF-8" };

  test("a same-origin urlencoded form is parsed, repeated and non-ASCII values included", async () => {
    const res = await postChunked(["a=1&b=%C3%A9", "&a=2&c=x+y"], FORM);
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), [
      ["a", "1"],
      ["b", "é"],
      ["a", "2"],
      ["c", "x y"],
    ]);
  });

  test("a body over the limit without Content-Length is cut off with 413", async () => {
    const res = await postChunked(["a=", "x".repeat(600), "x".repeat(600)], FORM);
    assert.equal(res.status, 413);
  });

  test("bytes that are not UTF-8 are refused with 400", async () => {
    const res = await new Promise<number>((resolve, reject) => {
      const req = http.request({ port, host: "127.0.0.1", method: "POST", path: "/", headers: FORM }, (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end(Buffer.from([0x61, 0x3d, 0xff, 0xfe]));
    });
    assert.equal(res, 400);
  });

  test("the origin comes from Origin, or from Referer only when Origin is absent", async () => {
    const ct = { "content-type": "application/x-www-form-urlencoded" };
    assert.equal((await postChunked(["a=1"], { ...ct, referer: `${ORIGIN}/connect/capture/x` })).status, 200);
    assert.equal((await postChunked(["a=1"], { ...ct, origin: "https://evil.example", referer: `${ORIGIN}/` })).status, 403);
    assert.equal((await postChunked(["a=1"], { ...ct, referer: "not a url" })).status, 403);
    assert.equal((await postChunked(["a=1"], { ...ct, origin: `${ORIGIN}:443` })).status, 403, "origins compare exactly");
  });
});
