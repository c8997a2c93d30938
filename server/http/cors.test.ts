import assert from "node:assert/strict";
import { test } from "node:test";
import { createCors } from "./cors.ts";
import type { NodeRequest } from "./endpoints.ts";

function exchange(cors: ReturnType<typeof createCors>, method: string, headers: Record<string, string>) {
  const set: Record<string, string> = {};
  let status = 0;
  let ended = false;
  const answered = cors({ method, headers } as unknown as NodeRequest, {
    setHeader: (n: string, v: string) => (set[n] = v),
    writeHead: (s: number, h: Record<string, string>) => {
      status = s;
      Object.assign(set, h);
    },
    end: () => (ended = true),
  });
  return { answered, status, headers: set, ended };
}

const preflight = (origin: string, requestHeaders = "authorization, content-type, connect-protocol-version") => ({
  origin,
  "access-control-request-method": "POST",
  "access-control-request-headers": requestHeaders,
});

test("an allowed origin's preflight is answered with the protocol headers", () => {
  const cors = createCors(["https://app.example.com"]);
  const res = exchange(cors, "OPTIONS", preflight("https://app.example.com"));
  assert.equal(res.answered, true);
  assert.equal(res.status, 204);
  assert.equal(res.headers["access-control-allow-origin"], "https://app.example.com");
  for (const h of ["authorization", "x-api-key", "connect-protocol-version", "x-grpc-web", "content-type", "grpc-timeout"]) {
    assert.ok(res.headers["access-control-allow-headers"]?.split(", ").includes(h), h);
  }
  assert.match(res.headers["access-control-allow-methods"] ?? "", /POST/);
  assert.equal(res.headers["access-control-allow-credentials"], undefined);
});

test("other origins get no CORS header; their preflight is refused", () => {
  const cors = createCors(["https://app.example.com"]);
  const pre = exchange(cors, "OPTIONS", preflight("https://evil.example"));
  assert.equal(pre.answered, true);
  assert.equal(pre.status, 403);
  assert.equal(pre.headers["access-control-allow-origin"], undefined);
  const simple = exchange(cors, "POST", { origin: "https://evil.example" });
  assert.equal(simple.answered, false);
  assert.equal(simple.headers["access-control-allow-origin"], undefined);
  assert.equal(
    createCors([])({ method: "OPTIONS", headers: preflight("https://app.example.com") } as unknown as NodeRequest, {
      setHeader: () => undefined,
      writeHead: (s: number) => assert.equal(s, 403),
      end: () => undefined,
    }),
    true,
    "no allowlist: every preflight refused",
  );
});

test("an allowed origin's actual request gets allow-origin, exposed headers and Vary", () => {
  const cors = createCors(["https://app.example.com", "http://localhost:5173"]);
  const res = exchange(cors, "POST", { origin: "http://localhost:5173" });
  assert.equal(res.answered, false);
  assert.equal(res.headers["access-control-allow-origin"], "http://localhost:5173");
  assert.match(res.headers["access-control-expose-headers"] ?? "", /grpc-status.*x-request-id.*retry-after/);
  assert.equal(res.headers.vary, "origin");
  assert.equal(exchange(cors, "GET", {}).answered, false, "no Origin: not a CORS request");
});
