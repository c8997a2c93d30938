/**
 * The README's webhook receiver, run as written: its ```ts block is copied to a scratch directory
 * (with this repository's node_modules, so `standardwebhooks` resolves), started with the secret a
 * real server printed, and fed by that server's deliveries. It must log the connection that became
 * active, and refuse (400) a request with a forged signature.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { REPO } from "./support/readme-blocks.ts";
import { startServer, TEST_TENANT, type TestServer } from "./support/start-server.ts";
import { eventually } from "./support/wait.ts";

/** The README's receiver: the ```ts block that imports standardwebhooks. */
function receiverSource(): string {
  const text = readFileSync(join(REPO, "README.md"), "utf8");
  const blocks = [...text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
  const found = blocks.filter((b) => b.includes('from "standardwebhooks"'));
  assert.equal(found.length, 1, "exactly one README receiver example");
  return found[0]!;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe("README webhook receiver", () => {
  let server: TestServer;
  let dir: string;
  let child: ChildProcess | undefined;
  before(async () => {
    server = await startServer({
      env: { NEXUS_WEBHOOK_ALLOW_HTTP: "true", NEXUS_WEBHOOK_ALLOWED_CIDRS: "127.0.0.1", NEXUS_WEBHOOK_POLL_INTERVAL_MS: "50" },
    });
    dir = mkdtempSync(join(tmpdir(), "nexus-receiver-"));
    symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"));
  });
  after(async () => {
    child?.kill("SIGKILL");
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("verifies real deliveries with standardwebhooks and refuses a forged one", async () => {
    const port = await freePort();
    const res = await fetch(`${server.baseUrl}/v1/tenants/${TEST_TENANT}/webhook-endpoints`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ url: `http://127.0.0.1:${port}/events` }),
    });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    const { secret } = JSON.parse(text) as { secret: string };
    const file = join(dir, "receiver.ts");
    writeFileSync(file, receiverSource());
    let out = "";
    child = spawn(process.execPath, [file], {
      env: { ...process.env, NEXUS_WEBHOOK_SECRET: secret, PORT: String(port) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (out += d));
    // Listening once a request gets any answer.
    await eventually(
      async () =>
        fetch(`http://127.0.0.1:${port}/events`, { method: "POST", body: "{}" }).then(
          (r) => r.status === 400,
          () => false,
        ),
      15_000,
      "the receiver answers (400 for an unsigned request)",
      50,
    );
    const forged = await fetch(`http://127.0.0.1:${port}/events`, {
      method: "POST",
      headers: { "webhook-id": "evt_x", "webhook-timestamp": String(Math.floor(Date.now() / 1000)), "webhook-signature": "v1,AAAA" },
      body: JSON.stringify({ type: "connection.active", data: {} }),
    });
    assert.equal(forged.status, 400);
    const connection = await server.app.store.createConnection({ tenantId: TEST_TENANT, userId: "readme-user", providerName: "github" });
    await server.app.store.updateConnectionStatus(TEST_TENANT, connection.id, "pending", "active", null);
    await eventually(
      () => out.includes(`connected: ${connection.id} (readme-user)`),
      15_000,
      `the receiver logged the active connection:\n${out}`,
    );
  });
});
