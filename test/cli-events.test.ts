/**
 * `nexus events` as an operator runs it (a real process against a live server): --json prints the
 * API's messages (the live heartbeat first, then each change), the table prints one line per change
 * ending with its cursor, --after resumes right after a cursor, Ctrl-C exits 0, and bad arguments
 * are usage errors or clear failures.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { createKeyProvider, PROVIDER } from "./support/access-fixtures.ts";
import { startServer, TEST_TENANT, type TestServer } from "./support/start-server.ts";

const execFileAsync = promisify(execFile);
const CLI = new URL("../server/cli/nexus.ts", import.meta.url).pathname;

describe("test/cli-events.test.ts", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ env: { NEXUS_WATCH_HEARTBEAT_MS: "3600000" } });
    await createKeyProvider(server);
  });
  after(() => server?.close());

  const env = () => ({ PATH: process.env.PATH ?? "", NEXUS_URL: server.baseUrl, NEXUS_API_KEY: server.agentKey });

  /** A running `nexus events …`: its lines as they come, and its exit code. */
  function events(args: string[]) {
    const child = spawn(process.execPath, [CLI, "events", ...args], { env: env(), stdio: ["ignore", "pipe", "pipe"] });
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
      errors: () => err,
      async nextLine(): Promise<string> {
        for (;;) {
          const lines = out.split("\n");
          if (lines.length - 1 > taken) return lines[taken++]!;
          if (child.exitCode !== null) throw new Error(`events exited (${child.exitCode}): ${err}`);
          await new Promise<void>((resolve) => {
            waiters.push(resolve);
            child.once("exit", () => resolve());
          });
        }
      },
    };
  }

  test("--json, then the table resumed with --after; Ctrl-C exits 0", async () => {
    const tailing = events(["--json"]);
    const live = JSON.parse(await tailing.nextLine()) as { heartbeat?: unknown; cursor?: string };
    assert.ok(live.heartbeat !== undefined && typeof live.cursor === "string", "the live marker first");
    const { id } = await server.app.store.createConnection({ tenantId: TEST_TENANT, userId: "cli-user", providerName: PROVIDER });
    await server.app.store.updateConnectionStatus(TEST_TENANT, id, "pending", "active", null);
    type EventLine = { connection_event?: { type?: string; cursor?: string; connection?: { connection_id?: string; status?: string } } };
    const created = JSON.parse(await tailing.nextLine()) as EventLine;
    const active = JSON.parse(await tailing.nextLine()) as EventLine;
    assert.equal(created.connection_event?.type, "created");
    assert.equal(created.connection_event?.connection?.connection_id, id);
    assert.equal(active.connection_event?.type, "active");
    assert.equal(active.connection_event?.connection?.status, "active");
    tailing.child.kill("SIGINT");
    assert.equal(await tailing.exitCode, 0);

    const resumed = events(["--after", created.connection_event!.cursor!]);
    const line = await resumed.nextLine();
    assert.match(
      line,
      new RegExp(
        `^\\S+Z {2}active {2}${id} {2}${PROVIDER} {2}user=cli-user {2}status=active {2}cursor=${active.connection_event!.cursor}$`,
      ),
    );
    resumed.child.kill("SIGINT");
    assert.equal(await resumed.exitCode, 0);
  });

  test("bad arguments: usage errors (exit 2) and a clear failure for a cursor that is not one (exit 1)", async () => {
    const run = async (args: string[]) =>
      execFileAsync(process.execPath, [CLI, "events", ...args], { env: env(), timeout: 60_000 }).then(
        () => ({ code: 0, stderr: "" }),
        (e: { code?: number; stderr?: string }) => ({ code: e.code ?? -1, stderr: e.stderr ?? "" }),
      );
    assert.equal((await run(["--after", "x", "--replay"])).code, 2);
    assert.equal((await run(["extra"])).code, 2);
    const bad = await run(["--after", "not-a-cursor"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /after_cursor/);
  });
});
