import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { isProxyTarget, normalizePath, ProxyPathError, parseProxyTarget, targetUrl } from "./proxy-target.ts";

describe("proxy request targets", () => {
  test("splits connection id, normalised path and raw query", () => {
    assert.deepEqual(parseProxyTarget("/v1/proxy/conn_1/repos/x?per_page=5&q=a%20b"), {
      connectionId: "conn_1",
      path: "/repos/x",
      query: "per_page=5&q=a%20b",
    });
    assert.deepEqual(parseProxyTarget("/v1/proxy/conn_1"), { connectionId: "conn_1", path: "/", query: "" });
    assert.deepEqual(parseProxyTarget("/v1/proxy/conn_1?x=1"), { connectionId: "conn_1", path: "/", query: "x=1" });
    assert.deepEqual(parseProxyTarget("/v1/proxy/conn_1/a/"), { connectionId: "conn_1", path: "/a/", query: "" });
    assert.equal(isProxyTarget("/v1/proxy/x"), true);
    assert.equal(isProxyTarget("http://evil.example/v1/proxy/x"), false);
    assert.equal(isProxyTarget(undefined), false);
  });

  test("normalises percent-escapes (RFC 3986 §6.2.2): unreserved decoded, the rest upper-cased", () => {
    assert.equal(normalizePath("/r%65pos/%7euser/a%2cb/@me"), "/repos/~user/a%2Cb/@me");
    assert.equal(normalizePath("/"), "/");
  });

  test("refuses every form of leaving the base path", () => {
    for (const path of [
      "/..",
      "/a/../b",
      "/a/./b",
      "/%2e%2E/x",
      "/.%2e",
      "/a/..;x/b",
      "/a//b",
      "//evil.example",
      "/https://evil.example",
      "/a%2fb",
      "/a%5Cb",
      "/a\\b",
      "/a%00",
      "/a%",
      "/a%g1",
      "/a b",
      "/a\tb",
      "/%C0%AE%C0%AE/x",
      "/%E0%80%AE%E0%80%AE/x",
      "/a%C0%AFb",
      "/%C1%9C",
      "/..%3B/x",
      "/..%3bx/y",
      "/.%3B/x",
      "/..%20/x",
      "/..%09/x",
      "/%EF%BC%8E%EF%BC%8E/x",
      "/\uFF0E\uFF0E/x",
      "/\u2025/x",
      "/%E2%80%A5/x",
      "/a%EF%BC%BCb",
      "/a%EF%BC%8Fb",
      "/a\uFF3Cb",
    ]) {
      assert.throws(() => normalizePath(path), ProxyPathError, path);
    }
    assert.throws(() => parseProxyTarget("/v1/proxy/../x"), ProxyPathError);
    assert.throws(() => parseProxyTarget("/v1/proxy/c/x?a#b"), ProxyPathError);
    assert.throws(() => parseProxyTarget("/v1/proxy/bad%20id/x"), ProxyPathError);
  });

  test("non-ASCII must be percent-encoded (HTTP/1.1 refuses it raw, so HTTP/2 does too); encoded, it passes", () => {
    assert.equal(normalizePath("/users/J%C3%BCrgen/%E2%9C%93"), "/users/J%C3%BCrgen/%E2%9C%93");
    assert.throws(() => normalizePath("/caf\u00e9"), ProxyPathError);
    assert.throws(() => parseProxyTarget("/v1/proxy/c/x?q=\u00e9"), ProxyPathError);
    assert.equal(parseProxyTarget("/v1/proxy/c/x?q=%C3%A9").query, "q=%C3%A9");
  });

  test("the target keeps the base URL's scheme, host, port and path prefix", () => {
    assert.equal(targetUrl("https://api.github.com", { path: "/repos/x", query: "a=1" }).href, "https://api.github.com/repos/x?a=1");
    assert.equal(targetUrl("https://x.example/api/v4/", { path: "/", query: "" }).href, "https://x.example/api/v4/");
    assert.equal(
      targetUrl("http://127.0.0.1:8080/base", { path: "/@evil.example/x", query: "" }).href,
      "http://127.0.0.1:8080/base/@evil.example/x",
    );
  });

  test("property: any accepted path stays under the base URL", () => {
    const segment = fc.oneof(
      fc.constantFrom("..", ".", "%2e%2e", "%2F", "%5c", "", "@", ":", "evil.example", "http:", "%40", "a;b", "~", "%zz", "\\"),
      fc.string({ unit: "grapheme-ascii", maxLength: 6 }),
    );
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 6 }), fc.string({ unit: "grapheme-ascii", maxLength: 10 }), (segments, query) => {
        let target: ReturnType<typeof parseProxyTarget>;
        try {
          target = parseProxyTarget(`/v1/proxy/c/${segments.join("/")}${query === "" ? "" : `?${query}`}`);
        } catch (err) {
          assert.ok(err instanceof ProxyPathError);
          return;
        }
        let url: URL;
        try {
          url = targetUrl("https://api.example.com/base", target);
        } catch (err) {
          assert.ok(err instanceof ProxyPathError || err instanceof TypeError);
          return;
        }
        assert.equal(url.origin, "https://api.example.com");
        assert.ok(url.pathname === "/base/" || url.pathname.startsWith("/base/"), url.pathname);
        assert.ok(!url.pathname.split("/").some((s) => s === ".." || s === "."), url.pathname);
      }),
      { numRuns: 2000 },
    );
  });
});
