import assert from "node:assert/strict";
import { test } from "node:test";
import { pino } from "pino";
import type { NodeRequest, NodeResponse } from "../http/endpoints.ts";
import type { CallbackResult } from "./consent-callback.ts";
import { escapeHtml, renderConsentPage } from "./consent-page.ts";
import { createOAuthCallbackRoute } from "./oauth-callback-route.ts";

/** A response double recording what the route writes. */
function recorder() {
  const out = { status: 0, headers: {} as Record<string, string>, body: "" };
  const res: NodeResponse = {
    headersSent: false,
    setHeader: (name, value) => (out.headers[name.toLowerCase()] = value),
    writeHead: (status, headers) => {
      out.status = status;
      for (const [k, v] of Object.entries(headers)) out.headers[k.toLowerCase()] = v;
    },
    end: (chunk?: string) => {
      out.body = chunk ?? "";
    },
  };
  return { res, out };
}

const req = (method: string, url: string) => ({ method, url }) as NodeRequest;

async function call(method: string, url: string, answer: (q: URLSearchParams) => Promise<CallbackResult>) {
  const queries: string[] = [];
  const route = createOAuthCallbackRoute({
    handleCallback: (q) => {
      queries.push(q.toString());
      return answer(q);
    },
    logger: pino({ level: "silent" }),
  });
  const { res, out } = recorder();
  const handled = await route(req(method, url), res);
  return { handled, out, queries };
}

test("only GET /oauth/callback is handled; the query reaches the flow", async () => {
  assert.equal((await call("GET", "/oauth/callbacks?x", async () => ({ redirect: "x" }))).handled, false);
  assert.equal((await call("GET", "/v1/token/x", async () => ({ redirect: "x" }))).handled, false);
  const post = await call("POST", "/oauth/callback?code=c", async () => ({ redirect: "x" }));
  assert.equal(post.out.status, 405);
  assert.equal(post.out.headers.allow, "GET");
  assert.deepEqual(post.queries, []);
  const ok = await call("GET", "/oauth/callback?code=c&state=s", async () => ({ redirect: "http://localhost/done?status=success" }));
  assert.deepEqual(ok.queries, ["code=c&state=s"]);
});

test("a redirect is a 303 that is not cached and sends no Referer onward", async () => {
  const { out } = await call("GET", "/oauth/callback?code=c", async () => ({ redirect: "http://localhost/done?status=success" }));
  assert.equal(out.status, 303);
  assert.equal(out.headers.location, "http://localhost/done?status=success");
  assert.equal(out.headers["cache-control"], "no-store");
  assert.equal(out.headers["referrer-policy"], "no-referrer");
});

test("the error page is escaped, unframeable, script-free and not cached; failures show a generic 500", async () => {
  const { out } = await call("GET", "/oauth/callback", async () => ({ page: { status: 400, title: "<b>t</b>", message: `"m" & 'n'` } }));
  assert.equal(out.status, 400);
  assert.equal(
    out.headers["content-security-policy"],
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  );
  assert.equal(out.headers["x-frame-options"], "DENY");
  assert.equal(out.headers["referrer-policy"], "no-referrer");
  assert.equal(out.headers["cache-control"], "no-store");
  assert.ok(out.body.includes("&#60;b&#62;t&#60;/b&#62;"));
  assert.ok(out.body.includes("&#34;m&#34; &#38; &#39;n&#39;"));
  assert.ok(!out.body.includes("<b>"));
  const failed = await call("GET", "/oauth/callback?state=s", async () => {
    throw new Error("database is down: secret detail");
  });
  assert.equal(failed.out.status, 500);
  assert.ok(!failed.out.body.includes("secret detail"));
  assert.equal(escapeHtml("<&>\"'"), "&#60;&#38;&#62;&#34;&#39;");
  assert.match(renderConsentPage({ title: "T", message: "M" }), /^<!DOCTYPE html>/);
});
