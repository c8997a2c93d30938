/**
 * Shutdown signals on the real process (`node server/main.ts`): a second SIGTERM during the
 * requests' grace period does not kill the process; it ends the grace early and the process still
 * runs the rest of its shutdown (refresh drain, store close) and exits 0.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import net from "node:net";
import { test } from "node:test";
import { createTempDataDir } from "./support/temp-data-dir.ts";
import { dropTestStore, testStoreEnv } from "./support/test-store.ts";

/** Resolves once `read()` matches `pattern`, checking on each chunk of output; rejects after 30 s. */
function waitForOutput(child: ReturnType<typeof spawn>, read: () => string, pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = pattern.exec(read());
      if (!match) return;
      clearTimeout(timer);
      child.stdout?.off("data", check);
      resolve(match);
    };
    const timer = setTimeout(() => reject(new Error(`no ${pattern} in output:\n${read()}`)), 30_000);
    child.stdout?.on("data", check);
    check();
  });
}

test("a second SIGTERM during the grace period ends it early; the process still shuts down cleanly and exits 0", async () => {
  const dir = createTempDataDir();
  try {
    const child = spawn(process.execPath, ["server/main.ts"], {
      env: {
        ...process.env,
        ...(await testStoreEnv(dir.path)),
        PORT: "0",
        NEXUS_HOST: "127.0.0.1",
        NEXUS_DATA_DIR: dir.path,
        NODE_ENV: "development",
        NEXUS_LOG_LEVEL: "info",
        // Far longer than the test: only the second signal can end it.
        NEXUS_SHUTDOWN_GRACE_MS: "600000",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (out += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once("exit", (code, signal) => resolve({ code, signal })),
    );
    const [, port] = await waitForOutput(child, () => out, /listening on http:\/\/127\.0\.0\.1:(\d+)/);
    // A request whose body never comes holds the listener in its grace period; "100 Continue" tells
    // that the server has it.
    const socket = net.connect(Number(port), "127.0.0.1");
    socket.on("error", () => undefined);
    socket.setEncoding("utf8");
    let answer = "";
    const inFlight = new Promise<void>((resolve) =>
      socket.on("data", (d: string) => {
        answer += d;
        if (answer.includes("100 Continue")) resolve();
      }),
    );
    socket.write(
      "POST /nexus.v1.ConnectionService/CheckConnection HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 100\r\nexpect: 100-continue\r\n\r\n",
    );
    await inFlight;
    child.kill("SIGTERM");
    await waitForOutput(child, () => out, /"msg":"shutting down"/);
    assert.equal(child.exitCode, null, "still in the grace period after the first signal");
    child.kill("SIGTERM");
    const { code, signal } = await exited;
    socket.destroy();
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, out);
    assert.match(out, /second signal/);
    assert.match(out, /nexus stopped/, "the rest of the shutdown ran");
  } finally {
    dir.remove();
    await dropTestStore(dir.path);
  }
});
