/**
 * API keys end to end: the ApiKeyService (create shows the secret once, list never does, revoke is
 * immediate), expiry, last use, the `nexus keys create|list|revoke` CLI against a live server's
 * database, the development bootstrap key (printed once, never logged) and the production rule
 * (NEXUS_ADMIN_API_KEY required; its hash ensured at start).
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { createApp } from "../server/app.ts";
import { generateApiKeySecret } from "../server/auth/api-key-secret.ts";
import { runApiKeysCommand } from "../server/cli/api-keys-command.ts";
import { runTokenCommand } from "../server/cli/token-command.ts";
import { ConfigError, checkServerConfig, loadConfig } from "../server/config/config.ts";
import { generateKeyringText } from "../server/vault/keyring.ts";
import { createKeyProvider, PROVIDER, seedConnection } from "./support/access-fixtures.ts";
import { startServer, type TestServer } from "./support/start-server.ts";
import { createTempDataDir } from "./support/temp-data-dir.ts";
import { dropTestStore, testStoreEnv } from "./support/test-store.ts";
import { eventually } from "./support/wait.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/api-keys.test.ts", () => {
  let server: TestServer;
  // The server's injected clock runs `clockAheadMs` ahead of the wall clock: expiry is tested by
  // moving it, not by sleeping (the CLI below reads the wall clock, so the tests that move it reset it).
  let clockAheadMs = 0;
  before(async () => {
    // No key cache: a CLI revocation must be visible to the very next request.
    server = await startServer({ env: { NEXUS_API_KEY_CACHE_MS: "0" }, overrides: { now: () => Date.now() + clockAheadMs } });
  });
  after(() => server.close());

  async function rest(method: string, path: string, key: string | undefined, body?: unknown) {
    const res = await fetch(`${server.baseUrl}${path}`, {
      method,
      headers: {
        ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, text, json: JSON.parse(text) as Record<string, any> };
  }

  describe("ApiKeyService", () => {
    test("create shows the secret once; the key works at once, in its new tenant; list never shows secrets", async () => {
      const created = await rest("POST", "/v1/api-keys", server.adminKey, { name: "ci", role: "agent", tenant_id: "acme" });
      assert.equal(created.status, 200, created.text);
      const { secret, api_key: key } = created.json;
      assert.match(secret, /^nxk_[A-Za-z0-9_-]{43}$/);
      assert.equal(key.prefix, secret.slice(0, 12));
      assert.equal(key.role, "agent");
      assert.equal(key.tenant_id, "acme");
      assert.equal((await server.app.store.getTenant("acme")).id, "acme", "the tenant was created");
      const listed = await rest("GET", "/v1/api-keys?tenant_id=acme", server.adminKey);
      assert.equal(listed.status, 200);
      assert.equal(listed.json.api_keys.length, 1);
      assert.ok(!listed.text.includes(secret) && !listed.text.includes(secret.slice(12)), "no secret in listings");
      assert.ok(!listed.text.includes("hash"));
      const own = await rest("GET", "/v1/connections", secret);
      assert.equal(own.status, 200, "the new agent key works in its tenant");
      // last_used_time is written in the background (it never delays a request): wait for it.
      await eventually(async () => (await server.app.store.getApiKey(key.key_id)).lastUsedAtMs !== null, 30_000, "last use recorded", 20);
    });

    test("invalid requests name the field", async () => {
      const cases: [unknown, string][] = [
        [{ name: "x", role: "agent" }, "tenant_id"],
        [{ name: "x", role: "admin", tenant_id: "acme" }, "tenant_id"],
        [{ name: "x" }, "role"],
        [{ role: "admin" }, "name"],
        [{ name: "bad\u001b[31m", role: "admin" }, "name"],
        [{ name: "x", role: "agent", tenant_id: "../etc" }, "tenant_id"],
        [{ name: "x", role: "admin", expire_time: "2001-01-01T00:00:00Z" }, "expire_time"],
      ];
      for (const [body, field] of cases) {
        const res = await rest("POST", "/v1/api-keys", server.adminKey, body);
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.match(res.json.message, new RegExp(`^${field}:`), JSON.stringify(body));
      }
    });

    test("revoke takes effect at once and is final; unknown keys are NotFound", async () => {
      const { secret, keyId } = await server.createKey({ role: "admin", name: "to revoke" });
      assert.equal((await rest("GET", "/v1/api-keys", secret)).status, 200);
      const revoked = await rest("POST", `/v1/api-keys/${keyId}:revoke`, server.adminKey, {});
      assert.equal(revoked.status, 200);
      assert.equal(typeof revoked.json.api_key.revoke_time, "string");
      assert.equal((await rest("GET", "/v1/api-keys", secret)).status, 401);
      const again = await rest("POST", `/v1/api-keys/${keyId}:revoke`, server.adminKey, {});
      assert.equal(again.json.api_key.revoke_time, revoked.json.api_key.revoke_time, "idempotent: the first time is kept");
      assert.equal((await rest("POST", "/v1/api-keys/key_nope:revoke", server.adminKey, {})).status, 404);
    });

    test("an expiring key works until its expire_time, then is Unauthenticated", async () => {
      const expireTime = new Date(Date.now() + 60_000).toISOString();
      const created = await rest("POST", "/v1/api-keys", server.adminKey, { name: "short", role: "admin", expire_time: expireTime });
      assert.equal(created.status, 200, created.text);
      try {
        clockAheadMs = 59_000;
        assert.equal((await rest("GET", "/v1/api-keys", created.json.secret)).status, 200, "a second before expire_time");
        clockAheadMs = 60_001;
        const expired = await rest("GET", "/v1/api-keys", created.json.secret);
        assert.equal(expired.status, 401);
        assert.equal(expired.json.message, "API key expired");
      } finally {
        clockAheadMs = 0;
      }
    });

    test("the proto's Role enum and paging work over REST", async () => {
      for (let i = 0; i < 3; i++) await server.createKey({ role: "agent", tenantId: "paged" });
      const first = await rest("GET", "/v1/api-keys?tenant_id=paged&page_size=2", server.adminKey);
      assert.equal(first.json.api_keys.length, 2);
      const second = await rest(
        "GET",
        `/v1/api-keys?tenant_id=paged&page_size=2&page_token=${first.json.next_page_token}`,
        server.adminKey,
      );
      assert.equal(second.json.api_keys.length, 1);
      assert.equal(second.json.next_page_token ?? "", "");
    });
  });

  describe("nexus keys create|list|revoke", () => {
    const io = () => {
      const out = { stdout: "", stderr: "" };
      return {
        out,
        io: {
          stdout: { write: (t: string) => (out.stdout += t) },
          stderr: { write: (t: string) => (out.stderr += t) },
          // Through the API, like an operator: the server's URL and an admin key.
          env: { NEXUS_URL: server.baseUrl, NEXUS_API_KEY: server.adminKey },
        },
      };
    };

    test("create prints the secret once and it works against the running server; list hides it; revoke stops it", async () => {
      const created = io();
      assert.equal(
        await runApiKeysCommand(["create", "--role", "agent", "--tenant", "cli-tenant", "--name", "ci", "--expires", "30d"], created.io),
        0,
      );
      const secret = /^ {2}(nxk_[A-Za-z0-9_-]{43})$/m.exec(created.out.stdout)?.[1];
      assert.ok(secret, created.out.stdout);
      const keyId = /key (key_\w+)/.exec(created.out.stdout)?.[1];
      assert.ok(keyId);
      assert.equal((await rest("GET", "/v1/connections", secret)).status, 200);

      const listed = io();
      assert.equal(await runApiKeysCommand(["list", "--tenant", "cli-tenant"], listed.io), 0);
      assert.match(listed.out.stdout, new RegExp(`${keyId}\\s+${secret.slice(0, 12)}\\s+agent\\s+cli-tenant\\s+ci`));
      assert.ok(!listed.out.stdout.includes(secret));
      const json = io();
      assert.equal(await runApiKeysCommand(["list", "--json"], json.io), 0);
      assert.ok(
        json.out.stdout
          .trim()
          .split("\n")
          .every((line) => !("secret" in JSON.parse(line))),
      );

      const revoked = io();
      assert.equal(await runApiKeysCommand(["revoke", keyId], revoked.io), 0);
      assert.equal((await rest("GET", "/v1/connections", secret)).status, 401, "revoked (this server has no key cache)");
      assert.ok(!server.logs().includes(secret), "the CLI's secret never reaches the server logs");
    });

    test("create --proxy-rule (repeatable) --proxy-only: list shows the rules; `nexus token` with the key is refused", async () => {
      await createKeyProvider(server);
      const created = io();
      const argv = ["create", "--role", "agent", "--tenant", "cli-proxy", "--name", "agent-proxy", "--proxy-only"];
      const rules = ["--proxy-rule", `${PROVIDER}:head,GET:/repos/**`, "--proxy-rule", `${PROVIDER}:POST:/repos/*/*/issues`];
      assert.equal(await runApiKeysCommand([...argv, ...rules], created.io), 0, created.out.stderr);
      assert.match(created.out.stdout, /proxy-only: it never receives a credential/);
      assert.match(created.out.stdout, new RegExp(`proxy rule: ${PROVIDER}:GET,HEAD:/repos/\\*\\*\n`));
      const secret = /^ {2}(nxk_[A-Za-z0-9_-]{43})$/m.exec(created.out.stdout)?.[1];
      assert.ok(secret);

      const listed = io();
      assert.equal(await runApiKeysCommand(["list", "--tenant", "cli-proxy"], listed.io), 0);
      assert.match(listed.out.stdout, /TOKENS\s+PROXY RULES/);
      assert.match(
        listed.out.stdout,
        new RegExp(`no \\(proxy-only\\)\\s+${PROVIDER}:GET,HEAD:/repos/\\*\\* ${PROVIDER}:POST:/repos/\\*/\\*/issues`),
      );
      const json = io();
      assert.equal(await runApiKeysCommand(["list", "--tenant", "cli-proxy", "--json"], json.io), 0);
      const line = JSON.parse(json.out.stdout.trim()) as { proxy_only: boolean; proxy_rules: string[] };
      assert.deepEqual(
        [line.proxy_only, line.proxy_rules],
        [true, [`${PROVIDER}:GET,HEAD:/repos/**`, `${PROVIDER}:POST:/repos/*/*/issues`]],
      );

      const connectionId = await seedConnection(server, "cli-proxy", "cli-proxy-secret-value");
      const token = io();
      token.io.env = { NEXUS_URL: server.baseUrl, NEXUS_API_KEY: secret };
      assert.equal(await runTokenCommand(["token", connectionId], token.io), 1);
      assert.match(token.out.stderr, /permission_denied/);
      assert.match(token.out.stderr, /proxy-only/);
      assert.ok(!token.out.stdout.includes("cli-proxy-secret-value") && !token.out.stderr.includes("cli-proxy-secret-value"));

      const bad: [string[], RegExp][] = [
        [["--proxy-rule", "github"], /--proxy-rule "github": a proxy rule is "provider:METHODS:\/path"/],
        [["--proxy-rule", `${PROVIDER}:BREW:/x`], /methods: "BREW" is not one of/],
        [["--proxy-rule", "nosuch:GET:/x"], /proxy_rules\[0\]\.provider: no provider named "nosuch"/],
      ];
      for (const [extra, message] of bad) {
        const run = io();
        assert.equal(await runApiKeysCommand(["create", "--role", "agent", "--tenant", "cli-proxy", "--name", "bad", ...extra], run.io), 2);
        assert.match(run.out.stderr, message);
      }
      const admin = io();
      assert.equal(await runApiKeysCommand(["create", "--role", "admin", "--name", "bad", "--proxy-only"], admin.io), 2);
      assert.match(admin.out.stderr, /proxy_only: applies to agent keys only/);
    });

    test("usage errors exit 2; a missing key exits 1", async () => {
      const cases = [
        ["create", "--name", "x"],
        ["create", "--role", "agent", "--name", "x"],
        ["create", "--role", "root", "--name", "x"],
        ["create", "--role", "admin", "--name", "x", "--expires", "soon"],
        ["create", "--role", "admin", "--name", "x", "--tenant", "t"],
        ["revoke"],
        ["list", "extra"],
        ["create", "--bogus"],
      ];
      for (const argv of cases) {
        const run = io();
        assert.equal(await runApiKeysCommand(argv, run.io), 2, argv.join(" "));
        assert.match(run.out.stderr, /usage: nexus keys/);
      }
      const missing = io();
      assert.equal(await runApiKeysCommand(["revoke", "key_nope"], missing.io), 1);
      assert.match(missing.out.stderr, /not found/);
    });

    test("nexus.ts dispatches `keys create --direct` to the database (admin key, JSON output)", () => {
      const res = spawnSync(
        process.execPath,
        ["server/cli/nexus.ts", "keys", "create", "--direct", "--role", "admin", "--name", "ops", "--json"],
        {
          encoding: "utf8",
          env: { ...process.env, ...server.storeEnv },
        },
      );
      assert.equal(res.status, 0, res.stderr);
      const printed = JSON.parse(res.stdout) as { secret: string; role: string; tenant_id: string | null };
      assert.equal(printed.role, "admin");
      assert.equal(printed.tenant_id, null);
      assert.match(printed.secret, /^nxk_/);
    });
  });

  describe("bootstrap admin key", () => {
    test("development: created and printed once on first start (never logged); not again on restart", async () => {
      const dir = createTempDataDir();
      const storeEnv = await testStoreEnv(dir.path);
      const logs: string[] = [];
      const printed: string[] = [];
      const start = () =>
        createApp(loadConfig({ NODE_ENV: "development", NEXUS_DATA_DIR: dir.path, PORT: "0", NEXUS_LOG_LEVEL: "debug", ...storeEnv }), {
          logDestination: new Writable({ write: (c: Buffer, _e, cb) => (logs.push(c.toString()), cb()) }),
          announce: (text) => printed.push(text),
        });
      try {
        const first = await start();
        const { port } = await first.listen();
        const secret = /(nxk_[A-Za-z0-9_-]{43})/.exec(printed.join(""))?.[1];
        assert.ok(secret, "printed");
        assert.match(printed.join(""), /shown ONCE/);
        const res = await fetch(`http://127.0.0.1:${port}/v1/api-keys`, { headers: { authorization: `Bearer ${secret}` } });
        assert.equal(res.status, 200, "the bootstrap key is an admin key");
        await first.close();
        const second = await start();
        await second.close();
        assert.equal(printed.length, 1, "printed once");
        assert.ok(logs.join("").includes("bootstrap admin API key"), "its creation is logged by id");
        assert.ok(!logs.join("").includes(secret), "never through the logger");
      } finally {
        dir.remove();
        await dropTestStore(dir.path);
      }
    });

    test("production: refuses to start without NEXUS_ADMIN_API_KEY (exit 78, clear message)", async () => {
      const env = { NODE_ENV: "production", NEXUS_ENCRYPTION_KEYS: generateKeyringText("k1") };
      assert.throws(
        () => checkServerConfig(loadConfig(env)),
        (err: unknown) => err instanceof ConfigError && /NEXUS_ADMIN_API_KEY: required/.test(err.message),
      );
      assert.throws(() => loadConfig({ ...env, NEXUS_ADMIN_API_KEY: "too-short" }), /NEXUS_ADMIN_API_KEY must be 32-512/);
      const dir = createTempDataDir();
      try {
        const child = spawn(process.execPath, ["server/main.ts"], {
          env: { ...process.env, ...env, PORT: "0", NEXUS_DATA_DIR: dir.path, NEXUS_ADMIN_API_KEY: "" },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let err = "";
        child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
        const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
        assert.equal(code, 78);
        assert.match(err, /NEXUS_ADMIN_API_KEY: required when NODE_ENV=production/);
      } finally {
        dir.remove();
      }
    });

    test("production: the configured key's hash is ensured at start and it is an admin key", async () => {
      const adminKey = generateApiKeySecret().secret;
      const prod = await startServer({
        env: { NODE_ENV: "production", NEXUS_ENCRYPTION_KEYS: generateKeyringText("k1"), NEXUS_ADMIN_API_KEY: adminKey },
      });
      try {
        const res = await fetch(`${prod.baseUrl}/v1/api-keys`, { headers: { authorization: `Bearer ${adminKey}` } });
        assert.equal(res.status, 200);
        const body = (await res.json()) as { api_keys: { name: string; role: string; prefix: string }[] };
        const configured = body.api_keys.find((k) => k.name === "NEXUS_ADMIN_API_KEY");
        assert.equal(configured?.role, "admin");
        assert.ok(!prod.logs().includes(adminKey));
      } finally {
        await prod.close();
      }
    });
  });
});
