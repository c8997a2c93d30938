/**
 * Every shell block of the README that talks to a server (curl, `buf curl`, `npm run nexus …`)
 * runs here, as written, against a live server: placeholders (`http://127.0.0.1:8080`, `nxk_…`,
 * `conn_…`) are filled from the run, curl fails on HTTP errors (`--fail-with-body`), and the block
 * runs under `set -euo pipefail`, so a README edit that breaks a command fails CI. Blocks marked
 * `<!-- readme-test: skip (why) -->` are not run, `stream` blocks run until their first event, and
 * `python` blocks belong to python-recipe.test.ts. An unmarked block that is not a server block fails.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { createKeyProvider, secretValue, seedConnection } from "./support/access-fixtures.ts";
import { createScratchCheckout, fillPlaceholders, REPO, type ReadmeBlock, readmeShellBlocks } from "./support/readme-blocks.ts";
import { startServer, type TestServer } from "./support/start-server.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/readme-commands.test.ts", () => {
  const SERVER_COMMAND = /\bcurl\b|\bbuf curl\b|npm run nexus/;
  // A failing HTTP status fails the command (as `curl -f` would), keeping the response body visible.
  const PRELUDE = 'set -euo pipefail\ncurl() { command curl --fail-with-body "$@"; }\n';

  let server: TestServer;
  let checkout: ReturnType<typeof createScratchCheckout>;
  let connectionId: string;

  before(async () => {
    server = await startServer();
    checkout = createScratchCheckout();
    // A key-based connection of tenant "acme" stands in for the one a user would have consented to.
    await createKeyProvider(server);
    connectionId = await seedConnection(server, "acme", secretValue("readme"));
  });
  after(async () => {
    checkout?.remove();
    await server?.close();
  });

  const blocks = readmeShellBlocks();

  test("every README shell block is run or explicitly marked", () => {
    const unaccounted = blocks.filter((b) => b.marker === undefined && !SERVER_COMMAND.test(b.script));
    assert.deepEqual(
      unaccounted.map((b) => `README.md:${b.line}`),
      [],
      "mark these <!-- readme-test: skip (why) --> or make them server blocks",
    );
    const counts = { run: 0, stream: 0, skip: 0, python: 0 };
    for (const b of blocks) counts[(b.marker ?? "run") as keyof typeof counts]++;
    assert.ok(counts.run >= 4 && counts.stream >= 2, `blocks: ${JSON.stringify(counts)}`);
    assert.ok(
      blocks.every((b) => b.marker === undefined || b.marker in counts),
      "known markers only",
    );
  });

  for (const block of blocks) {
    if (block.marker !== undefined && block.marker !== "stream") continue;
    const name = `README.md:${block.line}: ${
      block.script
        .split("\n")
        .find((l) => SERVER_COMMAND.test(l))
        ?.trim()
        .slice(0, 70) ?? ""
    }`;
    test(name, { timeout: 120_000 }, async () => {
      const result = await runBlock(block);
      assert.equal(result.ok, true, `${result.reason}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
    });
  }

  /** Runs one block in the scratch checkout; a stream block passes once it has printed a version. */
  function runBlock(block: ReadmeBlock): Promise<{ ok: boolean; reason: string; stdout: string; stderr: string }> {
    const script = PRELUDE + fillPlaceholders(block.script, { baseUrl: server.baseUrl, apiKey: server.adminKey, connectionId });
    const child = spawn("bash", ["-c", script], {
      cwd: checkout.path,
      detached: true, // its own process group, so a stream's whole pipeline can be stopped
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        PATH: `${REPO}/node_modules/.bin:${process.env.PATH ?? ""}`,
        HOME: process.env.HOME ?? "",
        NEXUS_API_KEY: server.adminKey,
        // The CLI's default is http://127.0.0.1:8080, the URL the README's curl lines name.
        NEXUS_URL: server.baseUrl,
        // As the seed's flow defines it; later blocks use it too.
        H: `authorization: Bearer ${server.adminKey}`,
        npm_config_update_notifier: "false",
      },
    });
    let stdout = "";
    let stderr = "";
    return new Promise((resolve) => {
      let settled = false;
      const finish = (ok: boolean, reason: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        try {
          process.kill(-child.pid!, "SIGTERM");
        } catch {
          // already gone
        }
        resolve({ ok, reason, stdout, stderr });
      };
      const timer = setTimeout(() => finish(false, "timed out"), 100_000);
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        if (block.marker === "stream" && /version/.test(stdout)) finish(true, "");
      });
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      child.on("exit", (code) => {
        if (block.marker === "stream") finish(false, `the stream ended (exit ${code}) before its first event`);
        else finish(code === 0, `exit ${code}`);
      });
    });
  }
});
