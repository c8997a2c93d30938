import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, loadConfig } from "./config.ts";
import { DEFAULT_PROXY_MAX_REQUEST_BYTES, DEFAULT_PROXY_MAX_RESPONSE_BYTES, DEFAULT_PROXY_MAX_SIGNED_BODY_BYTES } from "./defaults.ts";

test("defaults are development-friendly", () => {
  const config = loadConfig({}, "/srv/nexus");
  assert.equal(config.mode, "development");
  assert.equal(config.port, 8080);
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.dataDir, "/srv/nexus/data");
  assert.ok(config.returnUrlOrigins.includes("http://localhost:*"));
});

test("every invalid variable is reported at once", () => {
  try {
    loadConfig({ PORT: "70000", NEXUS_PUBLIC_URL: "ftp://x", NEXUS_LOG_LEVEL: "loud" });
    assert.fail("expected ConfigError");
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.problems.length, 3);
    assert.match(err.message, /PORT: PORT must be at most 65535/);
  }
});

test("production needs encryption keys and allows no return URL by default", () => {
  assert.throws(() => loadConfig({ NODE_ENV: "production" }), /NEXUS_ENCRYPTION_KEYS: required/);
  const config = loadConfig({ NODE_ENV: "production", NEXUS_ENCRYPTION_KEYS: "k1:x" });
  assert.deepEqual(config.returnUrlOrigins, []);
});

test("return URL origins are parsed and validated", () => {
  const config = loadConfig({ NEXUS_RETURN_URL_ORIGINS: "https://app.example.com, http://localhost:*" });
  assert.deepEqual(config.returnUrlOrigins, ["https://app.example.com", "http://localhost:*"]);
  assert.throws(() => loadConfig({ NEXUS_RETURN_URL_ORIGINS: "app.example.com" }), /NEXUS_RETURN_URL_ORIGINS/);
});

test("refresh timing settings have defaults and limits", () => {
  const defaults = loadConfig({});
  assert.equal(defaults.refreshSkewMs, 300_000);
  assert.equal(defaults.refreshLeaseMs, 5_000);
  assert.equal(defaults.refreshReadWaitMs, 2_000);
  assert.equal(loadConfig({ NEXUS_REFRESH_READ_WAIT_MS: "500" }).refreshReadWaitMs, 500);
  assert.equal(defaults.refreshConcurrency, 64);
  assert.equal(loadConfig({ NEXUS_REFRESH_CONCURRENCY: "8" }).refreshConcurrency, 8);
  assert.throws(() => loadConfig({ NEXUS_REFRESH_CONCURRENCY: "0" }), ConfigError);
  assert.equal(defaults.watchHeartbeatMs, 15_000);
  assert.equal(loadConfig({ NEXUS_REFRESH_LEASE_MS: "12000" }).refreshLeaseMs, 12_000);
  assert.throws(() => loadConfig({ NEXUS_REFRESH_LEASE_MS: "10" }), /NEXUS_REFRESH_LEASE_MS must be at least 1000/);
});

test("connection event retention has a default of 7 days and limits", () => {
  assert.equal(loadConfig({}).connectionEventRetentionDays, 7);
  assert.equal(loadConfig({ NEXUS_CONNECTION_EVENT_RETENTION_DAYS: "30" }).connectionEventRetentionDays, 30);
  assert.throws(() => loadConfig({ NEXUS_CONNECTION_EVENT_RETENTION_DAYS: "0" }), /NEXUS_CONNECTION_EVENT_RETENTION_DAYS/);
});

test("empty strings count as unset", () => {
  assert.equal(loadConfig({ PORT: "" }).port, 8080);
});

test("connection caps and HTTP/2 timeouts have defaults and limits", () => {
  const defaults = loadConfig({});
  assert.equal(defaults.maxConnections, 10_000);
  assert.equal(defaults.maxConnectionsPerAddress, 256);
  assert.equal(defaults.maxAnonymousStreamsPerAddress, 32);
  assert.equal(defaults.http2IdleTimeoutMs, 30_000);
  assert.equal(defaults.http2PingIntervalMs, 30_000);
  assert.equal(defaults.http2PingTimeoutMs, 20_000);
  const set = loadConfig({ NEXUS_MAX_CONNECTIONS: "500", NEXUS_MAX_CONNECTIONS_PER_ADDRESS: "8", NEXUS_HTTP2_IDLE_TIMEOUT_MS: "5000" });
  assert.deepEqual([set.maxConnections, set.maxConnectionsPerAddress, set.http2IdleTimeoutMs], [500, 8, 5_000]);
  assert.throws(() => loadConfig({ NEXUS_MAX_CONNECTIONS: "0" }), /NEXUS_MAX_CONNECTIONS must be at least 1/);
  assert.throws(() => loadConfig({ NEXUS_HTTP2_PING_TIMEOUT_MS: "10" }), /NEXUS_HTTP2_PING_TIMEOUT_MS must be at least 1000/);
});

test("NEXUS_PROXY_OPEN_TENANTS: none by default; a comma list of tenant ids or *; bad entries refused", () => {
  assert.deepEqual(loadConfig({}).proxyOpenTenants, []);
  assert.deepEqual(loadConfig({ NEXUS_PROXY_OPEN_TENANTS: " acme, beta ,," }).proxyOpenTenants, ["acme", "beta"]);
  assert.deepEqual(loadConfig({ NEXUS_PROXY_OPEN_TENANTS: "*" }).proxyOpenTenants, ["*"]);
  assert.throws(() => loadConfig({ NEXUS_PROXY_OPEN_TENANTS: `acme,${"x".repeat(129)}` }), /NEXUS_PROXY_OPEN_TENANTS/);
});

test("proxy body limits: defaults from defaults.ts, whole numbers within bounds", () => {
  const config = loadConfig({});
  assert.equal(config.proxyMaxRequestBytes, DEFAULT_PROXY_MAX_REQUEST_BYTES);
  assert.equal(config.proxyMaxResponseBytes, DEFAULT_PROXY_MAX_RESPONSE_BYTES);
  assert.equal(config.proxyMaxSignedBodyBytes, DEFAULT_PROXY_MAX_SIGNED_BODY_BYTES);
  const set = loadConfig({
    NEXUS_PROXY_MAX_REQUEST_BYTES: "1000",
    NEXUS_PROXY_MAX_RESPONSE_BYTES: "2000",
    NEXUS_PROXY_MAX_SIGNED_BODY_BYTES: "3000",
  });
  assert.deepEqual([set.proxyMaxRequestBytes, set.proxyMaxResponseBytes, set.proxyMaxSignedBodyBytes], [1000, 2000, 3000]);
  assert.throws(() => loadConfig({ NEXUS_PROXY_MAX_REQUEST_BYTES: "-1" }), /NEXUS_PROXY_MAX_REQUEST_BYTES must be a whole number/);
  assert.throws(
    () => loadConfig({ NEXUS_PROXY_MAX_SIGNED_BODY_BYTES: String(2 * 1024 ** 3) }),
    /NEXUS_PROXY_MAX_SIGNED_BODY_BYTES must be at most/,
  );
});
