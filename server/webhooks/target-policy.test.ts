// The SSRF rules: each refused range, the operator's allowlist and http switch, URL form, and a
// name that resolves to a refused address (also one of several, and at connect time through the
// sender: the pinned lookup refuses before any byte is sent).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { WebhookTargetNotAllowedError } from "../domain/errors.ts";
import { createTargetRules, type ResolveHost } from "./target-policy.ts";
import { createWebhookSender } from "./webhook-sender.ts";

const PUBLIC = { isHttpAllowed: false, allowedCidrs: [] };
const LIMITS = { connectTimeoutMs: 2_000, timeoutMs: 5_000, maxResponseBytes: 1024 };

const REFUSED: Record<string, string[]> = {
  loopback: ["127.0.0.1", "127.8.9.10", "::1"],
  "private (RFC 1918)": ["10.0.0.1", "172.16.5.4", "172.31.255.255", "192.168.1.1"],
  "unique local (ULA)": ["fc00::1", "fd12:3456::1", "fd00:ec2::254"],
  "CGNAT (100.64/10)": ["100.64.0.1", "100.127.255.254", "100.100.100.200"],
  "link-local (and cloud metadata)": ["169.254.169.254", "169.254.0.1", "fe80::1"],
  multicast: ["224.0.0.1", "239.1.2.3", "ff02::1"],
  unspecified: ["0.0.0.0", "::"],
  "broadcast and reserved": ["255.255.255.255", "240.0.0.1", "192.0.2.1"],
  "IPv4-mapped IPv6 of a private address": ["::ffff:10.0.0.1", "::ffff:127.0.0.1"],
  "6to4 / Teredo / NAT64": ["2002:a00:1::1", "2001::1", "64:ff9b::a00:1"],
  // URL parsing turns [::127.0.0.1] into [::7f00:1], which ipaddr.js calls "unicast".
  "IPv4-compatible IPv6 (::/96, deprecated)": ["::7f00:1", "::a00:1", "::a9fe:a9fe", "::808:808"],
};

describe("webhook target rules", () => {
  const rules = createTargetRules(PUBLIC);
  for (const [range, addresses] of Object.entries(REFUSED)) {
    it(`refuses ${range}`, () => {
      for (const address of addresses) {
        assert.equal(rules.isAddressAllowed(address), false, address);
        const host = address.includes(":") ? `[${address}]` : address;
        assert.throws(() => rules.checkUrl(`https://${host}/hook`), WebhookTargetNotAllowedError, address);
      }
    });
  }

  it("accepts public unicast addresses and names", () => {
    for (const address of ["93.184.215.14", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"])
      assert.equal(rules.isAddressAllowed(address), true, address);
    assert.equal(rules.checkUrl("https://hooks.example.com/in?x=1").hostname, "hooks.example.com");
  });

  it("refuses http unless allowed, credentials in the URL, and non-URLs", () => {
    assert.throws(
      () => rules.checkUrl("http://hooks.example.com/"),
      (e: WebhookTargetNotAllowedError) => e.rule === "scheme",
    );
    assert.equal(createTargetRules({ ...PUBLIC, isHttpAllowed: true }).checkUrl("http://hooks.example.com/").protocol, "http:");
    assert.throws(
      () => rules.checkUrl("ftp://hooks.example.com/"),
      (e: WebhookTargetNotAllowedError) => e.rule === "scheme",
    );
    assert.throws(
      () => rules.checkUrl("https://user:pw@hooks.example.com/"),
      (e: WebhookTargetNotAllowedError) => e.rule === "format",
    );
    assert.throws(
      () => rules.checkUrl("not a url"),
      (e: WebhookTargetNotAllowedError) => e.rule === "format",
    );
    assert.throws(
      () => rules.checkUrl(`https://h.example.com/${"a".repeat(2100)}`),
      (e: WebhookTargetNotAllowedError) => e.rule === "format",
    );
    // The limit holds for the URL as stored: 1000 "é" percent-encode to 6000 characters.
    assert.throws(
      () => rules.checkUrl(`https://h.example.com/${"é".repeat(1000)}`),
      (e: WebhookTargetNotAllowedError) => e.rule === "format",
    );
  });

  it("the operator's CIDR allowlist admits exactly its ranges", () => {
    const allowing = createTargetRules({ isHttpAllowed: true, allowedCidrs: ["127.0.0.0/8", "10.1.0.0/16", "::1/128"] });
    assert.equal(allowing.isAddressAllowed("127.0.0.1"), true);
    assert.equal(allowing.isAddressAllowed("::ffff:127.0.0.1"), true);
    assert.equal(allowing.isAddressAllowed("10.1.2.3"), true);
    assert.equal(allowing.isAddressAllowed("10.2.0.1"), false);
    assert.equal(allowing.isAddressAllowed("::1"), true);
    assert.equal(allowing.isAddressAllowed("169.254.169.254"), false);
  });

  it("a name is refused when any of its addresses is refused", async () => {
    const resolve: ResolveHost = async (host) =>
      host === "mixed.example"
        ? [
            { address: "93.184.215.14", family: 4 },
            { address: "10.0.0.5", family: 4 },
          ]
        : [{ address: "93.184.215.14", family: 4 }];
    const named = createTargetRules(PUBLIC, resolve);
    await assert.rejects(named.resolveAllowed("mixed.example"), WebhookTargetNotAllowedError);
    assert.deepEqual(await named.resolveAllowed("ok.example"), [{ address: "93.184.215.14", family: 4 }]);
  });

  it("the sender checks the resolved address at connect time: a name resolving to loopback is never contacted", async () => {
    let hits = 0;
    const server = createServer((_req, res) => {
      hits++;
      res.end("ok");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      // "rebind.example" resolves to loopback at connect time; only an operator allowlist admits it.
      const resolve: ResolveHost = async () => [{ address: "127.0.0.1", family: 4 }];
      const refused = createWebhookSender({ ...LIMITS, rules: createTargetRules({ isHttpAllowed: true, allowedCidrs: [] }, resolve) });
      assert.deepEqual(await refused(`http://rebind.example:${port}/`, {}, "{}"), {
        isDelivered: false,
        statusCode: null,
        error: "address not allowed",
      });
      assert.deepEqual(await refused(`http://127.0.0.1:${port}/`, {}, "{}"), {
        isDelivered: false,
        statusCode: null,
        error: "address not allowed",
      });
      assert.equal(hits, 0);
      const allowed = createWebhookSender({
        ...LIMITS,
        rules: createTargetRules({ isHttpAllowed: true, allowedCidrs: ["127.0.0.0/8"] }, resolve),
      });
      assert.deepEqual(await allowed(`http://rebind.example:${port}/`, {}, "{}"), { isDelivered: true, statusCode: 200 });
      assert.equal(hits, 1);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("the sender follows no redirect, caps the response and times out", async () => {
    let stall: (() => void) | undefined;
    const server = createServer((req, res) => {
      if (req.url === "/redirect") res.writeHead(302, { location: "https://example.com/" }).end();
      else if (req.url === "/big") {
        res.writeHead(200);
        res.write(Buffer.alloc(64 * 1024));
        // Never ends: the cap, not the end of the body, finishes the attempt.
      } else if (req.url === "/slow") stall = () => res.end();
      else res.writeHead(204).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const send = createWebhookSender({
      connectTimeoutMs: 2_000,
      timeoutMs: 300,
      maxResponseBytes: 1024,
      rules: createTargetRules({ isHttpAllowed: true, allowedCidrs: ["127.0.0.0/8"] }),
    });
    try {
      assert.deepEqual(await send(`http://127.0.0.1:${port}/redirect`, {}, "{}"), {
        isDelivered: false,
        statusCode: 302,
        error: "status 302",
      });
      assert.deepEqual(await send(`http://127.0.0.1:${port}/big`, {}, "{}"), { isDelivered: true, statusCode: 200 });
      assert.deepEqual(await send(`http://127.0.0.1:${port}/slow`, {}, "{}"), { isDelivered: false, statusCode: null, error: "timeout" });
      assert.deepEqual(await send(`http://127.0.0.1:${port}/`, {}, "{}"), { isDelivered: true, statusCode: 204 });
    } finally {
      stall?.();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("https through the pinned lookup still verifies the certificate for the URL's host name", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nexus-hook-tls-"));
    try {
      execFileSync(
        "openssl",
        [
          "req",
          "-x509",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-days",
          "1",
          "-subj",
          "/CN=hooks.test",
          "-addext",
          "subjectAltName=DNS:hooks.test",
          "-keyout",
          join(dir, "key.pem"),
          "-out",
          join(dir, "cert.pem"),
        ],
        { stdio: "ignore" },
      );
      const cert = readFileSync(join(dir, "cert.pem"));
      const server = createHttpsServer({ key: readFileSync(join(dir, "key.pem")), cert }, (_req, res) => res.writeHead(204).end());
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const { port } = server.address() as AddressInfo;
      const resolve: ResolveHost = async () => [{ address: "127.0.0.1", family: 4 }];
      const send = createWebhookSender({
        ...LIMITS,
        ca: cert,
        rules: createTargetRules({ isHttpAllowed: false, allowedCidrs: ["127.0.0.1/32"] }, resolve),
      });
      try {
        assert.deepEqual(await send(`https://hooks.test:${port}/in`, {}, "{}"), { isDelivered: true, statusCode: 204 });
        const wrongName = await send(`https://other.test:${port}/in`, {}, "{}");
        assert.equal(wrongName.isDelivered, false, "a certificate for another name is refused");
      } finally {
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
