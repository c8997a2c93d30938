/**
 * The client as an outsider gets it: `npm pack` of client/ (its prepack builds dist/), installed
 * from the tarball into a fresh temporary project that depends on nothing else, then the agent in
 * test/outsider-agent/ type-checks under a strict NodeNext config and under `tsc --init` defaults,
 * and runs on Node 24 and Node 26 against a live server. publint and attw lint the tarball.
 * Node 26 comes from .ci/run (NEXUS_NODE26_HOME); without it the test skips, and fails under CI.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, existsSync, lstatSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { createKeyProvider, secretValue, seedConnection } from "./support/access-fixtures.ts";
import { startServer, TEST_TENANT, type TestServer } from "./support/start-server.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/client-package.test.ts", () => {
  const REPO = join(import.meta.dirname, "..");
  const BIN = join(REPO, "node_modules", ".bin");
  const TSC = join(REPO, "node_modules", "typescript", "bin", "tsc");
  /** The budget for a project that depends only on the client. */
  const INSTALLED_BUDGET_BYTES = 15 * 1024 * 1024;
  /** Kept in step with .ci/run, which provisions it and exports NEXUS_NODE26_HOME. */
  const NODE26_HOME = process.env.NEXUS_NODE26_HOME ?? join(homedir(), ".cache", "nexus", "node-v26.12.1");
  /** Packages of the server that must never reach an agent's node_modules. */
  const SERVER_ONLY = ["better-sqlite3", "pg", "drizzle-orm", "oauth4webapi", "jose", "pino", "zod", "ajv", "prom-client", "@smithy"];

  const execFileAsync = promisify(execFile);

  /** Runs a command to completion (bounded by `timeoutMs`), returning stdout; a failure carries both outputs. */
  async function run(
    command: string,
    args: string[],
    cwd: string,
    env: NodeJS.ProcessEnv = process.env,
    timeoutMs = 120_000,
  ): Promise<string> {
    try {
      const { stdout } = await execFileAsync(command, args, { cwd, env, timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 });
      return stdout;
    } catch (err) {
      const failed = err as { message: string; stdout?: string; stderr?: string };
      throw new Error(`${command} ${args.join(" ")} failed: ${failed.message}\n${failed.stdout ?? ""}\n${failed.stderr ?? ""}`);
    }
  }

  /** Bytes of every file under `dir` (symlinks counted as links, not followed). */
  function treeBytes(dir: string): number {
    let total = 0;
    for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) total += lstatSync(join(entry.parentPath, entry.name)).size;
    }
    return total;
  }

  interface PackResult {
    filename: string;
    files: { path: string }[];
  }

  let project: string;
  let tarball: string;
  let packed: PackResult;
  let server: TestServer;
  let target: Server;
  let targetUrl: string;
  const targetSaw: (string | undefined)[] = [];
  let connectionId: string;
  let secret: string;

  // Bounded: each command below has its own timeout too (npm pack builds, npm install may fetch).
  before(
    async () => {
      project = mkdtempSync(join(tmpdir(), "nexus-outsider-"));
      const packs = JSON.parse(await run("npm", ["pack", "--json", "--pack-destination", project], join(REPO, "client"))) as PackResult[];
      assert.equal(packs.length, 1);
      packed = packs[0]!;
      tarball = join(project, packed.filename);
      cpSync(join(REPO, "test", "outsider-agent"), project, { recursive: true });
      writeFileSync(
        join(project, "package.json"),
        JSON.stringify({
          name: "outsider-agent",
          private: true,
          type: "module",
          dependencies: { "@nexus/client": `file:${packed.filename}` },
        }),
      );
      // From the npm cache where it can (the repository's own install filled it); the registry otherwise.
      await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"], project);

      server = await startServer();
      await createKeyProvider(server);
      secret = secretValue("outsider");
      connectionId = await seedConnection(server, TEST_TENANT, secret);
      // The "provider" the agent calls with the applied credential.
      target = createServer((req, res) => {
        targetSaw.push(req.headers["x-api-key"] as string | undefined);
        res.writeHead(200).end("{}");
      });
      await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
      targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}/v1/me`;
    },
    { timeout: 300_000 },
  );

  after(async () => {
    await new Promise((resolve) => (target ? target.close(resolve) : resolve(undefined)));
    await server?.close();
    if (project) rmSync(project, { recursive: true, force: true });
  });

  test("the tarball holds the built JavaScript and declarations only", () => {
    const paths = packed.files.map((file) => file.path);
    for (const path of ["package.json", "dist/client/index.js", "dist/client/index.d.ts", "dist/gen/nexus/v1/credential_pb.js"]) {
      assert.ok(paths.includes(path), `${path} is in the tarball`);
    }
    const stray = paths.filter((path) => !/^dist\/.*\.(js|d\.ts)$/.test(path) && path !== "package.json" && path !== "README.md");
    assert.deepEqual(stray, [], "nothing but dist/*.js, dist/*.d.ts, package.json and README.md");
    assert.ok(!paths.some((path) => path.includes(".test.")), "no test files");
  });

  test(`installed, the client and its dependencies stay within ${INSTALLED_BUDGET_BYTES / 1024 / 1024} MB and carry no server package`, (t) => {
    const modules = join(project, "node_modules");
    for (const name of SERVER_ONLY) assert.ok(!existsSync(join(modules, name)), `${name} is not installed`);
    const bytes = treeBytes(modules);
    t.diagnostic(`node_modules: ${(bytes / 1024 / 1024).toFixed(1)} MB in ${readdirSync(modules).join(", ")}`);
    assert.ok(bytes <= INSTALLED_BUDGET_BYTES, `node_modules is ${bytes} bytes`);
  });

  test("publint finds nothing to report", async () => {
    const out = await run(join(BIN, "publint"), ["run", "--strict", tarball], project);
    assert.match(out, /All good!/);
  });

  test("arethetypeswrong: every ESM resolution finds types (the package is ESM-only)", async () => {
    // Exit status 0 means no problem under the profile; the CJS row (require of ESM) is the profile's exemption.
    await run(join(BIN, "attw"), ["--profile", "esm-only", "--format", "table-flipped", tarball], project);
  });

  test("without the optional peers the client loads, and bridge metrics and SigV4 name what to install", async () => {
    const out = await run(process.execPath, ["optional-peers.mjs"], project, { PATH: process.env.PATH }, 60_000);
    const outcome = JSON.parse(out.trim()) as { bridge: string; sigv4: string };
    assert.match(outcome.bridge, /^TypeError: .*npm install prom-client/);
    assert.match(outcome.sigv4, /^StrategyError: aws_sigv4: .*@smithy\/signature-v4 and @smithy\/hash-node/);
  });

  test("the agent type-checks under a strict NodeNext config (declaration files checked too)", async () => {
    await run(process.execPath, [TSC, "-p", "tsconfig.strict.json"], project);
  });

  test("the agent type-checks under `tsc --init` defaults", async () => {
    const initDir = join(project, "init");
    cpSync(join(project, "agent.ts"), join(initDir, "agent.ts"));
    // The same node_modules, one level up (Node's and TypeScript's resolution walk up to it).
    await run(process.execPath, [TSC, "--init"], initDir);
    await run(process.execPath, [TSC, "-p", "tsconfig.json", "--noEmit"], initDir);
  });

  async function runAgent(node: string): Promise<Record<string, unknown>> {
    const before = targetSaw.length;
    const out = await run(
      node,
      ["agent.ts"],
      project,
      {
        PATH: process.env.PATH,
        NEXUS_URL: server.baseUrl,
        NEXUS_API_KEY: server.agentKey,
        CONNECTION_ID: connectionId,
        TARGET_URL: targetUrl,
      },
      60_000,
    );
    const report = JSON.parse(out.trim().split("\n").at(-1)!) as Record<string, unknown>;
    assert.deepEqual(targetSaw.slice(before), [secret], "the provider received the applied credential once");

    const rest = await fetch(`${server.baseUrl}/v1/token/${connectionId}`, { headers: server.auth() });
    assert.equal(rest.status, 200);
    const restBody = (await rest.json()) as Record<string, unknown>;
    const { seed, ...rest_ } = report;
    assert.deepEqual(seed, restBody.credential ?? restBody, "toSeedCredential matches the REST JSON");
    assert.equal((seed as { strategy: { type: string } }).strategy.type, "header");
    assert.deepEqual(rest_, {
      node: rest_.node,
      active: true,
      headerStrategy: true,
      service: "nexus.v1.TokenService",
      version: 1,
      watchedVersion: 1,
      providerStatus: 200,
      missingIsNotFound: true,
      missingReason: "CONNECTION_NOT_FOUND",
    });
    return report;
  }

  test("the agent runs on this Node (24) against a live server", async () => {
    const report = await runAgent(process.execPath);
    assert.equal(report.node, process.versions.node);
  });

  test("the agent runs on Node 26 against a live server", async (t) => {
    const node26 = join(NODE26_HOME, "bin", "node");
    if (!existsSync(node26)) {
      const why = `Node 26 is not at ${node26} (.ci/run provisions it; set NEXUS_NODE26_HOME)`;
      if (process.env.CI === "true") assert.fail(why);
      t.skip(why);
      return;
    }
    const report = await runAgent(node26);
    assert.match(String(report.node), /^26\./);
  });
});
