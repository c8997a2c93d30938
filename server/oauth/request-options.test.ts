import assert from "node:assert/strict";
import { test } from "node:test";
import { allowInsecureRequests, customFetch } from "oauth4webapi";
import { eventually } from "../../test/support/wait.ts";
import {
  createProviderFetch,
  createRequestOptions,
  type FetchFn,
  InsecureEndpointError,
  isAllowedEndpointUrl,
  isLoopbackUrl,
} from "./request-options.ts";

test("loopback means localhost, 127.0.0.1 and [::1] only", () => {
  for (const url of ["http://localhost:8080/x", "http://127.0.0.1/", "http://[::1]:9/"]) assert.ok(isLoopbackUrl(url), url);
  for (const url of ["http://127.0.0.1.evil.example/", "http://localhost.evil.example/", "http://10.0.0.1/", "not a url"]) {
    assert.ok(!isLoopbackUrl(url), url);
  }
  assert.ok(isAllowedEndpointUrl("https://id.example.com/token"));
  assert.ok(isAllowedEndpointUrl("http://127.0.0.1:4000/token"));
  assert.ok(!isAllowedEndpointUrl("http://id.example.com/token"));
  assert.ok(!isAllowedEndpointUrl("ftp://127.0.0.1/"));
});

test("allowInsecureRequests is set only when an endpoint is plain http on loopback", () => {
  assert.equal(createRequestOptions({ urls: ["https://a.example/token"] })[allowInsecureRequests], false);
  assert.equal(createRequestOptions({ urls: ["https://a.example/auth", "http://127.0.0.1:5/token"] })[allowInsecureRequests], true);
});

test("the injected fetch is used, with a timeout signal, and never for plain http off loopback", async () => {
  const seen: { url: string; signal: AbortSignal | null | undefined }[] = [];
  const fetch: FetchFn = async (url, init) => {
    seen.push({ url, signal: init.signal });
    return new Response("ok");
  };
  const options = createRequestOptions({ urls: ["http://127.0.0.1:5/token"], fetch, timeoutMs: 5 });
  const send = options[customFetch]!;
  const signal = typeof options.signal === "function" ? options.signal("http://127.0.0.1:5/token") : options.signal;
  await send("http://127.0.0.1:5/token", { method: "POST", headers: {}, body: undefined, redirect: "manual", signal });
  assert.equal(seen.length, 1);
  assert.ok(seen[0]?.signal instanceof AbortSignal);
  await eventually(() => seen[0]?.signal?.aborted === true, 10_000, "the per-request signal timing out");
  await assert.rejects(
    send("http://evil.example/jwks", { method: "GET", headers: {}, body: undefined, redirect: "manual" }),
    InsecureEndpointError,
  );
  assert.equal(seen.length, 1);
});

test("a provider that accepts the connection and never answers costs the first-byte timeout, not the total", async () => {
  const { createServer } = await import("node:net");
  const sockets: import("node:net").Socket[] = [];
  // Accepts, reads the request, never answers: a hung provider.
  const server = createServer((socket) => sockets.push(socket.on("data", () => undefined)));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as import("node:net").AddressInfo).port;
  try {
    for (const fetch of [undefined, createProviderFetch({ firstByteTimeoutMs: 60_000 })]) {
      const options = createRequestOptions({ urls: [`http://127.0.0.1:${port}/token`], fetch, timeoutMs: 60_000, firstByteTimeoutMs: 200 });
      const signal = typeof options.signal === "function" ? options.signal(`http://127.0.0.1:${port}/token`) : options.signal;
      const send = options[customFetch]!;
      await assert.rejects(
        send(`http://127.0.0.1:${port}/token`, { method: "POST", headers: {}, body: undefined, redirect: "manual", signal }),
        (error: unknown) => {
          assert.equal((error as Error).name, "TimeoutError");
          return true;
        },
      );
    }
    // The default transport's own headers timeout, without the wrapper.
    const bare = createProviderFetch({ firstByteTimeoutMs: 200 });
    await assert.rejects(bare(`http://127.0.0.1:${port}/token`, { method: "POST" }), (error: unknown) => {
      assert.ok(error instanceof TypeError, "fetch failed");
      return true;
    });
  } finally {
    for (const socket of sockets) socket.destroy();
    server.close();
  }
});

test("the default transport answers with the global Response class (error statuses are sorted by it)", async () => {
  const { createServer } = await import("node:http");
  const server = createServer((_req, res) => res.writeHead(503, { "content-type": "text/plain" }).end("down"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const res = await createProviderFetch()(`http://127.0.0.1:${(server.address() as import("node:net").AddressInfo).port}/token`, {
      method: "POST",
    });
    assert.ok(res instanceof Response);
    assert.equal(res.status, 503);
    assert.equal(await res.text(), "down");
  } finally {
    server.close();
  }
});
