/**
 * Bridge.maintainGrpc against a scripted Nexus and a local gRPC target that accepts only the
 * current token: per-call credentials follow rotations, Unauthenticated forces one refresh and a
 * re-run, restartOnRotation restarts long-lived runs, revoked and permanent errors stop it.
 */
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, test } from "node:test";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { Registry } from "prom-client";
import {
  type Bridge,
  ConnectionRevokedError,
  createBridge,
  createNexusClient,
  type GrpcRunContext,
  type NexusClient,
} from "../client/index.ts";
import { ConnectionService } from "../gen/nexus/v1/connections_pb.ts";
import { ConnectionStatus } from "../gen/nexus/v1/status_pb.ts";
import { eventually, FAST_BACKOFF, within } from "./support/client-test-kit.ts";
import { metricValue } from "./support/metric-value.ts";
import { type ScriptedNexus, startScriptedNexus } from "./support/scripted-nexus.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/client-bridge-grpc.test.ts", () => {
  let nexus: ScriptedNexus;
  let client: NexusClient;
  let bridge: Bridge;
  let registry: Registry;
  let target: http2.Http2Server;
  let targetUrl: string;
  let tokensSeen: string[];
  const sessions = new Set<http2.ServerHttp2Session>();

  beforeEach(async () => {
    nexus = await startScriptedNexus({ heartbeatIntervalMs: 50 });
    nexus.addConnection("c");
    registry = new Registry();
    client = createNexusClient({ baseUrl: nexus.baseUrl, apiKey: "key-1", registry, watch: { backoff: FAST_BACKOFF } });
    bridge = createBridge({ client, labels: { agent_id: "agent-g" }, backoff: FAST_BACKOFF });
    tokensSeen = [];
    target = http2.createServer(
      connectNodeAdapter({
        routes: (router) =>
          router.service(ConnectionService, {
            checkConnection(request, context) {
              const token = (context.requestHeader.get("authorization") ?? "").replace(/^Bearer /, "");
              tokensSeen.push(token);
              if (token !== `tok-c-v${nexus.credential("c").version}`) throw new ConnectError("bad token", Code.Unauthenticated);
              return { status: ConnectionStatus.ACTIVE };
            },
          }),
      }),
    );
    target.on("session", (session) => {
      sessions.add(session);
      session.on("close", () => sessions.delete(session));
    });
    await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
    targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await bridge.stop();
    client.close();
    for (const session of sessions) session.destroy();
    await new Promise((resolve) => target.close(resolve));
    await nexus.close();
  });

  function targetClient(interceptor: Interceptor) {
    return createClient(ConnectionService, createGrpcTransport({ baseUrl: targetUrl, interceptors: [interceptor] }));
  }

  test("every call carries the current credential, across a rotation, without restarting the run", async () => {
    const attempts: number[] = [];
    let rotated = false;
    const handle = bridge.maintainGrpc("c", async ({ interceptor, signal, attempt }) => {
      attempts.push(attempt);
      const svc = targetClient(interceptor);
      while (!signal.aborted) {
        await svc.checkConnection({ connectionId: "c" }, { signal });
        if (tokensSeen.length === 2 && !rotated) {
          rotated = true;
          nexus.rotate("c");
          await eventually(() => client.credentials.peek("c")?.version === 2n);
        }
        if (tokensSeen.length === 4) return;
      }
    });
    await within(handle.done);
    assert.deepEqual(tokensSeen, ["tok-c-v1", "tok-c-v1", "tok-c-v2", "tok-c-v2"]);
    assert.deepEqual(attempts, [1]);
    const labels = { agent_id: "agent-g", connection_id: "c", transport: "grpc" };
    assert.equal(await metricValue(registry, "bridge_connections_total", labels), 1);
    assert.equal(await metricValue(registry, "bridge_disconnects_total", labels), 1);
    assert.equal(await metricValue(registry, "bridge_token_refreshes_total", labels), 1);
  });

  test("Unauthenticated from the target forces one refresh and re-runs", async () => {
    nexus.watchMode = "unimplemented";
    await client.getCredential("c");
    nexus.rotate("c"); // the target wants v2; the cache holds v1
    const runs: Array<{ attempt: number; version: bigint }> = [];
    const handle = bridge.maintainGrpc("c", async ({ interceptor, attempt, credential }) => {
      runs.push({ attempt, version: credential.version });
      await targetClient(interceptor).checkConnection({ connectionId: "c" });
    });
    await within(handle.done);
    assert.deepEqual(runs, [
      { attempt: 1, version: 1n },
      { attempt: 2, version: 3n },
    ]);
    assert.deepEqual(tokensSeen, ["tok-c-v1", "tok-c-v3"]);
    assert.equal(nexus.calls.refreshConnection, 1);
  });

  test("restartOnRotation aborts a long-lived run and starts it again with the new credential", async () => {
    const runs: GrpcRunContext[] = [];
    bridge.maintainGrpc(
      "c",
      async (context) => {
        runs.push(context);
        await new Promise<void>((resolve) => context.signal.addEventListener("abort", () => resolve(), { once: true }));
      },
      { restartOnRotation: true },
    );
    await eventually(() => runs.length === 1);
    nexus.rotate("c");
    await eventually(() => runs.length === 2, 3_000, "restart after rotation");
    assert.ok(runs[0]!.signal.aborted);
    assert.equal(runs[1]!.credential.version, 2n);
    assert.equal(runs[1]!.attempt, 2);
  });

  test("revocation stops the workload with ConnectionRevokedError and aborts the run", async () => {
    let runSignal: AbortSignal | undefined;
    const handle = bridge.maintainGrpc("c", async ({ signal }) => {
      runSignal = signal;
      await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
    });
    await eventually(() => runSignal !== undefined);
    nexus.setStatus("c", ConnectionStatus.REVOKED);
    await assert.rejects(within(handle.done), ConnectionRevokedError);
    assert.ok(runSignal?.aborted);
  });

  test("a permanent error stops the workload; a transient one is retried", async () => {
    let calls = 0;
    const handle = bridge.maintainGrpc("c", async () => {
      calls += 1;
      if (calls === 1) throw new ConnectError("blip", Code.Unavailable);
      throw new ConnectError("no such method", Code.Unimplemented);
    });
    await assert.rejects(within(handle.done), (e: unknown) => e instanceof ConnectError && e.code === Code.Unimplemented);
    assert.equal(calls, 2);
  });
});
