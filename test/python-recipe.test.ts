/**
 * The README's "Other languages" recipe, run as written: Debian's protoc + grpc_python_plugin
 * generate Python stubs from proto/, and examples/python/nexus_watch.py (Debian's python3-grpcio)
 * calls GetToken and reads a WatchCredentials stream from a live server; and the section's buf
 * managed-mode template really sets the Java package. Without those tools the
 * test skips locally and fails when CI is set (.ci/run installs them).
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { existsSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { createKeyProvider, secretValue, seedConnection } from "./support/access-fixtures.ts";
import { createScratchCheckout, fillPlaceholders, REPO, readmeShellBlocks } from "./support/readme-blocks.ts";
import { startServer, type TestServer } from "./support/start-server.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/python-recipe.test.ts", () => {
  const PATH = process.env.PATH ?? "";

  function missingTools(): string[] {
    const missing: string[] = [];
    for (const tool of ["protoc", "grpc_python_plugin"]) {
      if (spawnSync("which", [tool], { env: { PATH } }).status !== 0) missing.push(tool);
    }
    // Debian's python3-grpcio belongs to the system interpreter (the recipe names it).
    if (spawnSync("/usr/bin/python3", ["-c", "import grpc, google.protobuf"]).status !== 0) missing.push("python3-grpcio");
    return missing;
  }

  const missing = missingTools();
  const skip =
    missing.length > 0 && !process.env.CI
      ? `missing ${missing.join(", ")} (apt-get install protobuf-compiler protobuf-compiler-grpc python3-grpcio)`
      : false;

  let server: TestServer;
  let checkout: ReturnType<typeof createScratchCheckout>;
  let connectionId: string;
  let secret: string;

  before(async () => {
    if (skip) return;
    server = await startServer();
    checkout = createScratchCheckout();
    await createKeyProvider(server);
    secret = secretValue("python");
    connectionId = await seedConnection(server, "acme", secret);
  });
  after(async () => {
    checkout?.remove();
    await server?.close();
  });

  test("the README's Python recipe generates stubs, calls GetToken and reads WatchCredentials", { skip, timeout: 120_000 }, async () => {
    assert.deepEqual(missing, [], "CI must install the recipe's Debian packages (.ci/run)");
    const recipe = readmeShellBlocks().filter((b) => b.marker === "python");
    assert.equal(recipe.length, 1, "one python block in the README");
    const script = fillPlaceholders(recipe[0]!.script, { baseUrl: server.baseUrl, apiKey: server.adminKey, connectionId });
    // Asynchronously: the server runs in this process and must keep answering meanwhile.
    const run = await promisify(execFile)("bash", ["-c", `set -euo pipefail\n${script}`], {
      cwd: checkout.path,
      encoding: "utf8",
      timeout: 90_000,
      env: { PATH, HOME: process.env.HOME ?? "", NEXUS_URL: server.baseUrl, NEXUS_API_KEY: server.adminKey },
    }).catch((err: { stdout?: string; stderr?: string }) => assert.fail(`the recipe failed:\n${err.stdout ?? ""}\n${err.stderr ?? ""}`));
    const lines = run.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, Record<string, unknown>>);
    const expected = {
      connection_id: connectionId,
      strategy: "STRATEGY_TYPE_HEADER",
      version: 1,
      expires_at: 0,
      credential_fields: ["api_key"],
    };
    assert.deepEqual(lines, [{ get_token: expected }, { watch: expected }]);
    assert.ok(!run.stdout.includes(secret), "the example prints field names, never values");
  });

  test("the README's buf managed-mode template sets the Java package the README names", { skip, timeout: 120_000 }, async () => {
    const readme = readFileSync(join(REPO, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Other languages"));
    const template = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    assert.ok(template, "the section shows a buf.gen.yaml");
    writeFileSync(join(checkout.path, "gen-java.yaml"), template);
    symlinkSync(join(REPO, "buf.yaml"), join(checkout.path, "buf.yaml"));
    await promisify(execFile)(join(REPO, "node_modules/.bin/buf"), ["generate", "--template", "gen-java.yaml"], {
      cwd: checkout.path,
      timeout: 90_000,
    }).catch((err: { stderr?: string }) => assert.fail(`buf generate failed:\n${err.stderr ?? ""}`));
    const tokens = join(checkout.path, "gen-java/com/example/gen/nexus/v1/TokensProto.java");
    assert.ok(existsSync(tokens), "Java classes under com.example.gen");
    assert.match(readFileSync(tokens, "utf8"), /^package com\.example\.gen\.nexus\.v1;/m);
  });
});
