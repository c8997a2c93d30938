/**
 * The `nexus` CLI as an operator runs it: a real process (node server/cli/nexus.ts) against a live
 * server, over the API by default (NEXUS_URL, NEXUS_API_KEY); only `--direct` touches a database,
 * and never one that does not exist unless `--init`.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { createKeyProvider, PROVIDER, secretValue, seedConnection } from "./support/access-fixtures.ts";
import { startServer, type TestServer } from "./support/start-server.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/cli.test.ts", () => {
  const CLI = new URL("../server/cli/nexus.ts", import.meta.url).pathname;
  const execFileAsync = promisify(execFile);

  let server: TestServer;
  let connectionId: string;
  let apiKeyValue: string;

  before(async () => {
    server = await startServer();
    await createKeyProvider(server);
    apiKeyValue = secretValue("cli-credential");
    connectionId = await seedConnection(server, "acme", apiKeyValue);
  });
  after(() => server.close());

  /** Runs the CLI; `env` replaces the Nexus variables (PATH and HOME are kept). */
  async function nexus(
    args: string[],
    env: Record<string, string> = {},
    cwd?: string,
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    const base = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", NEXUS_URL: server.baseUrl, NEXUS_API_KEY: server.adminKey };
    try {
      const { stdout, stderr } = await execFileAsync(process.execPath, [CLI, ...args], { env: { ...base, ...env }, cwd, timeout: 60_000 });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
    }
  }

  const jsonLines = (text: string) =>
    text
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);

  test("--help lists every command", async () => {
    const { code, stdout } = await nexus(["--help"]);
    assert.equal(code, 0);
    for (const command of [
      "connections list",
      "connections get",
      "connections revoke",
      "token ID",
      "watch ID",
      "audit",
      "keys create",
      "--direct",
      "providers plan|apply",
    ]) {
      assert.ok(stdout.includes(command), `help names ${command}`);
    }
    for (const group of ["connections", "audit"]) {
      const help = await nexus([...group.split(" "), "--help"]);
      assert.equal(help.code, 0, group);
      assert.match(help.stdout, /--json/);
    }
  });

  describe("server commands", () => {
    test("connections list and get, as a table and as JSON", async () => {
      const table = await nexus(["connections", "list", "--tenant", "acme"]);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, new RegExp(`${connectionId}\\s+acme\\s+user-1\\s+${PROVIDER}\\s+active`));
      const listed = jsonLines((await nexus(["connections", "list", "--tenant", "acme", "--status", "active", "--json"])).stdout);
      assert.deepEqual(
        listed.map((c) => [c.connection_id, c.status]),
        [[connectionId, "active"]],
      );
      const got = await nexus(["connections", "get", connectionId, "--json"]);
      assert.equal((jsonLines(got.stdout)[0] ?? {}).provider_name, PROVIDER);
      const human = await nexus(["connections", "get", connectionId]);
      assert.match(human.stdout, /account:\s+unknown\n/);
      const byLabel = await nexus(["connections", "list", "--tenant", "acme", "--label", "workspace=none", "--json"]);
      assert.equal(byLabel.code, 0, byLabel.stderr);
      assert.deepEqual(jsonLines(byLabel.stdout), []);
      const badLabel = await nexus(["connections", "list", "--tenant", "acme", "--label", "no-equals"]);
      assert.equal(badLabel.code, 1);
      assert.match(badLabel.stderr, /labels\[0\]/);
      const missing = await nexus(["connections", "get", "conn_missing"]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /not_found: .*\[CONNECTION_NOT_FOUND\]/);
    });

    test("token prints the credential in the seed's shape; audit finds the read by connection, key and action", async () => {
      const agent = await server.createKey({ role: "agent", tenantId: "acme", name: "cli agent" });
      const token = await nexus(["token", connectionId, "--json"], { NEXUS_API_KEY: agent.secret });
      assert.equal(token.code, 0, token.stderr);
      const [credential] = jsonLines(token.stdout);
      assert.deepEqual(credential?.strategy, { type: "header", header: { header_name: "X-Api-Key", credential_field: "api_key" } });
      assert.deepEqual(credential?.credentials, { api_key: apiKeyValue });
      const human = await nexus(["token", connectionId], { NEXUS_API_KEY: agent.secret });
      assert.match(human.stdout, new RegExp(`api_key: ${apiKeyValue}`));

      // Audit rows are group-committed; poll until the read shows up.
      let events: Record<string, unknown>[] = [];
      for (let i = 0; i < 100 && events.length === 0; i++) {
        const audit = await nexus([
          "audit",
          "--connection",
          connectionId,
          "--key",
          agent.keyId,
          "--action",
          "token.read",
          "--since",
          "1h",
          "--json",
        ]);
        assert.equal(audit.code, 0, audit.stderr);
        events = jsonLines(audit.stdout);
      }
      assert.ok(events.length >= 2, "both reads are audited");
      assert.ok(events.every((e) => e.key_id === agent.keyId && e.action === "token.read" && e.connection_id === connectionId));
      assert.ok(!JSON.stringify(events).includes(apiKeyValue), "audit rows hold no secret");
      const otherKey = await nexus(["audit", "--connection", connectionId, "--key", "key_none", "--json"]);
      assert.deepEqual(jsonLines(otherKey.stdout), [], "--key filters");
      const table = await nexus(["audit", "--connection", connectionId, "--limit", "1"]);
      assert.equal(table.stdout.trim().split("\n").length, 2, "header + --limit 1 row");
      assert.equal((await nexus(["audit", "--since", "yesterday"])).code, 2, "bad --since is a usage error");
    });

    test("watch prints events until Ctrl-C (exit 0) and never a secret; revoke ends it (exit 1)", async () => {
      const other = await seedConnection(server, "acme", secretValue("cli-other"));
      // Watch 1: interrupted with SIGINT after the first event.
      const interrupted = watch(connectionId);
      assert.match(await interrupted.nextLine(), /credential version 1 \(header, does not expire\)/);
      interrupted.child.kill("SIGINT");
      assert.equal(await interrupted.exitCode, 0);
      assert.ok(!interrupted.output().includes(apiKeyValue), "the table never prints the secret");

      // Watch 2 (JSON): the connection is revoked through the CLI while it runs.
      const watching = watch(other, ["--json"]);
      const first = JSON.parse(await watching.nextLine()) as { credential?: { version?: number } };
      assert.equal(first.credential?.version, 1);
      const revoke = await nexus(["connections", "revoke", other, "--json"]);
      assert.equal(revoke.code, 0, revoke.stderr);
      assert.equal((jsonLines(revoke.stdout)[0] ?? {}).status, "revoked");
      assert.deepEqual(JSON.parse(await watching.nextLine()), { status: { status: "revoked", reason: "revoked_by_api" } });
      assert.equal(await watching.exitCode, 1);
      assert.match(watching.errors(), /failed_precondition/);
    });

    test("no key, a bad URL and an agent key on admin commands fail with a clear line", async () => {
      const noKey = await nexus(["connections", "list", "--tenant", "acme"], { NEXUS_API_KEY: "" });
      assert.equal(noKey.code, 1);
      assert.match(noKey.stderr, /refused the API key.*NEXUS_API_KEY/);
      const unreachable = await nexus(["connections", "list"], { NEXUS_URL: "http://127.0.0.1:9" });
      assert.equal(unreachable.code, 1);
      assert.match(unreachable.stderr, /cannot reach the server at http:\/\/127\.0\.0\.1:9/);
      const agent = await server.createKey({ role: "agent", tenantId: "acme" });
      const denied = await nexus(["audit"], { NEXUS_API_KEY: agent.secret });
      assert.equal(denied.code, 1);
      assert.match(denied.stderr, /permission_denied/);
      assert.equal((await nexus(["connections", "list", "--url", "ftp://x"])).code, 2);
    });
  });

  describe("keys: API by default, the database only with --direct", () => {
    test("keys create goes to the running server, which accepts the key at once", async () => {
      const cwd = mkdtempSync(join(tmpdir(), "nexus-cli-"));
      try {
        const created = await nexus(["keys", "create", "--role", "agent", "--tenant", "acme", "--name", "from-cli", "--json"], {}, cwd);
        assert.equal(created.code, 0, created.stderr);
        const { secret } = JSON.parse(created.stdout) as { secret: string };
        const res = await fetch(`${server.baseUrl}/v1/connections`, { headers: server.auth(secret) });
        assert.equal(res.status, 200, "the server knows the key");
        assert.ok(!existsSync(join(cwd, "data")), "no stray ./data/nexus.db");
      } finally {
        rmSync(cwd, { recursive: true, force: true });
      }
    });

    test("--direct refuses a database that does not exist; --init creates it", async () => {
      const cwd = mkdtempSync(join(tmpdir(), "nexus-cli-"));
      try {
        const args = ["keys", "create", "--direct", "--role", "admin", "--name", "first"];
        const refused = await nexus(args, { NEXUS_URL: "", NEXUS_API_KEY: "" }, cwd);
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /no database at .*data\/nexus\.db.*--init/);
        assert.ok(!existsSync(join(cwd, "data")), "nothing created");
        assert.equal((await nexus(["keys", "rotate"], { NEXUS_URL: "", NEXUS_API_KEY: "" }, cwd)).code, 1, "rotate refuses too");
        assert.ok(!existsSync(join(cwd, "data", "nexus.db")));
        const created = await nexus([...args, "--init"], { NEXUS_URL: "", NEXUS_API_KEY: "" }, cwd);
        assert.equal(created.code, 0, created.stderr);
        assert.ok(existsSync(join(cwd, "data", "nexus.db")));
        const listed = await nexus(["keys", "list", "--direct"], { NEXUS_URL: "", NEXUS_API_KEY: "" }, cwd);
        assert.match(listed.stdout, /admin\s+\*\s+first/);
        assert.equal((await nexus(["keys", "list", "--init"], {}, cwd)).code, 2, "--init needs --direct");
      } finally {
        rmSync(cwd, { recursive: true, force: true });
      }
    });
  });

  /** A running `nexus watch`: its lines as they come, and its exit code. */
  function watch(id: string, extra: string[] = []) {
    const child = spawn(process.execPath, [CLI, "watch", id, ...extra], {
      env: { PATH: process.env.PATH ?? "", NEXUS_URL: server.baseUrl, NEXUS_API_KEY: server.adminKey },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    let taken = 0;
    const waiters: (() => void)[] = [];
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      for (const wake of waiters.splice(0)) wake();
    });
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    const exitCode = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    return {
      child,
      exitCode,
      output: () => out,
      errors: () => err,
      async nextLine(): Promise<string> {
        for (;;) {
          const lines = out.split("\n");
          if (lines.length - 1 > taken) return lines[taken++]!;
          if (child.exitCode !== null) throw new Error(`watch exited (${child.exitCode}): ${err}`);
          await new Promise<void>((resolve) => {
            waiters.push(resolve);
            child.once("exit", () => resolve());
          });
        }
      },
    };
  }
});
