/**
 * Operating the server: health, readiness and metrics endpoints, gRPC health, storage that survives
 * restarts, and the real process (npm start's entry) starting, answering and stopping on SIGTERM.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health_pb.ts";
import { ConnectionService } from "../gen/nexus/v1/connections_pb.ts";
import { startServer } from "./support/start-server.ts";
import { createTempDataDir } from "./support/temp-data-dir.ts";
import { dropTestStore, testStoreEnv } from "./support/test-store.ts";

test("healthz, readyz and gRPC health answer", async () => {
  const server = await startServer();
  try {
    assert.deepEqual(await (await fetch(`${server.baseUrl}/healthz`)).json(), { status: "ok" });
    const ready = await fetch(`${server.baseUrl}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: "ready", checks: { store: "ok" } });
    const health = createClient(Health, createGrpcTransport({ baseUrl: server.baseUrl }));
    assert.equal((await health.check({ service: "" })).status, HealthCheckResponse_ServingStatus.SERVING);
    assert.equal((await health.check({ service: "nexus.v1.TokenService" })).status, HealthCheckResponse_ServingStatus.SERVING);
  } finally {
    await server.close();
  }
});

test("/metrics exposes the per-RPC counter and latency after a call", async () => {
  const server = await startServer();
  try {
    const client = createClient(ConnectionService, createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [server.bearer()] }));
    await client.checkConnection({ connectionId: "conn_missing" }).catch(() => undefined);
    await fetch(`${server.baseUrl}/v1/check-connection/conn_missing`, { headers: server.auth() });
    const text = await (await fetch(`${server.baseUrl}/metrics`)).text();
    const counter = text
      .split("\n")
      .find((l) =>
        l.startsWith('nexus_rpc_requests_total{service="nexus.v1.ConnectionService",method="CheckConnection",code="not_found"}'),
      );
    assert.ok(counter, "counter line present");
    assert.equal(Number(counter.split(" ").at(-1)), 2, "gRPC and REST calls are both counted");
    assert.match(text, /nexus_rpc_duration_seconds_bucket\{le="0.005",service="nexus.v1.ConnectionService"/);
    assert.match(text, /process_cpu_user_seconds_total/);
  } finally {
    await server.close();
  }
});

test("migrations run on an empty data dir and are idempotent; data survives a restart", async () => {
  const dir = createTempDataDir();
  try {
    const first = await startServer({ dataDir: dir.path });
    const created = await first.app.store.createConnection({ tenantId: "default", userId: "u", providerName: "github" });
    await first.close({ keepDataDir: true });
    const second = await startServer({ dataDir: dir.path });
    try {
      const res = await fetch(`${second.baseUrl}/v1/check-connection/${created.id}`, { headers: second.auth() });
      assert.deepEqual(await res.json(), { status: "pending" });
    } finally {
      await second.close();
    }
    const keyFile = path.join(dir.path, "encryption-keys");
    assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
  } finally {
    dir.remove();
    await dropTestStore(dir.path);
  }
});

test("the real process starts, prints its URLs, serves, and exits 0 on SIGTERM", async () => {
  const dir = createTempDataDir();
  try {
    const child = spawn(process.execPath, ["server/main.ts"], {
      env: {
        ...process.env,
        ...(await testStoreEnv(dir.path)),
        PORT: "0",
        NEXUS_DATA_DIR: dir.path,
        NODE_ENV: "development",
        NEXUS_LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (out += d));
    const baseUrl = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line; output:\n${out}`)), 20_000);
      child.stdout.on("data", () => {
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.on("exit", (code) => reject(new Error(`exited early (${code}):\n${out}`)));
    });
    assert.match(out, /generated a new encryption keyring/);
    assert.equal((await fetch(`${baseUrl}/healthz`)).status, 200);
    // First development start: a bootstrap admin key is printed once, outside the JSON log lines.
    const secret = /^ {4}(nxk_[A-Za-z0-9_-]{43})$/m.exec(out)?.[1];
    assert.ok(secret, `a bootstrap admin key is printed:\n${out}`);
    const logLines = out.split("\n").filter((line) => line.startsWith("{"));
    assert.ok(
      logLines.some((line) => line.includes("bootstrap admin API key")),
      "its creation is logged (by id)",
    );
    assert.ok(
      logLines.every((line) => !line.includes(secret)),
      "the secret is never in a log line",
    );
    const keys = await fetch(`${baseUrl}/v1/api-keys`, { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(keys.status, 200, "the printed key is an admin key");
    assert.equal((await fetch(`${baseUrl}/v1/api-keys`)).status, 401);
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    assert.equal(await exited, 0);
  } finally {
    dir.remove();
    await dropTestStore(dir.path);
  }
});

test("production mode refuses to start without encryption keys, with a clear message", async () => {
  const dir = createTempDataDir();
  try {
    const child = spawn(process.execPath, ["server/main.ts"], {
      env: { ...process.env, PORT: "0", NEXUS_DATA_DIR: dir.path, NODE_ENV: "production", NEXUS_ENCRYPTION_KEYS: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    assert.equal(code, 78);
    assert.match(err, /NEXUS_ENCRYPTION_KEYS: required when NODE_ENV=production/);
    assert.equal(fs.existsSync(path.join(dir.path, "encryption-keys")), false);
  } finally {
    dir.remove();
  }
});
