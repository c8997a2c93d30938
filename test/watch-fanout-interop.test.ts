/**
 * Issue 14 §3: the fan-out (server/services/watch-fanout.ts) with clients we did not write. `buf curl`
 * over gRPC, gRPC-Web and Connect, @grpc/grpc-js (also cancellation), and Python grpcio stubs (Debian's protoc + grpc_python_plugin,
 * as the README's recipe): each stream gets its first credential, then a version delivered by the
 * fan-out, then the connection is revoked and the stream ends with FailedPrecondition and its
 * ErrorInfo (gRPC trailers / end-stream message); a Python deadline ends a stream the fan-out holds
 * with DEADLINE_EXCEEDED. Without protoc / grpc_python_plugin / python3-grpcio the Python cases
 * skip locally and fail when CI is set (.ci/run installs them).
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { ConnectionService } from "../gen/nexus/v1/connections_pb.ts";
import { ErrorInfoSchema, ErrorReason } from "../gen/nexus/v1/errors_pb.ts";
import {
  type WatchCredentialsRequest,
  WatchCredentialsRequestSchema,
  type WatchCredentialsResponse,
  WatchCredentialsResponseSchema,
} from "../gen/nexus/v1/tokens_pb.ts";
import { type RefreshRig, startRefreshRig } from "./support/refresh-rig.ts";
import { eventually } from "./support/wait.ts";

const REPO = join(import.meta.dirname, "..");
const BUF = join(REPO, "node_modules/.bin/buf");

describe("test/watch-fanout-interop.test.ts", () => {
  let rig: RefreshRig;
  let scratch = "";
  before(async () => {
    rig = await startRefreshRig({ accessTtlSeconds: 3600 });
    scratch = mkdtempSync(join(tmpdir(), "nexus-fanout-interop-"));
  });
  after(async () => {
    await rig?.close();
    if (scratch !== "") rmSync(scratch, { recursive: true, force: true });
  });

  /** A running client process and everything it printed so far. */
  function run(command: string, args: string[], env: Record<string, string> = {}) {
    const child: ChildProcess = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    const out = { stdout: "", stderr: "" };
    child.stdout?.on("data", (chunk: Buffer) => (out.stdout += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (out.stderr += chunk.toString()));
    const exited = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? -1)));
    return { out, exited, kill: () => child.kill() };
  }

  const admin = () => {
    const bearer: Interceptor = (next) => (req) => {
      req.header.set("authorization", `Bearer ${rig.server.adminKey}`);
      return next(req);
    };
    return createClient(ConnectionService, createGrpcTransport({ baseUrl: rig.server.baseUrl, interceptors: [bearer] }));
  };

  /** Versions a client printed ("version": "N" in buf curl's JSON, version=N from Python). */
  const versionsIn = (text: string) => [...text.matchAll(/"version":\s*"(\d+)"|version=(\d+)/g)].map((m) => Number(m[1] ?? m[2]));

  for (const protocol of ["grpc", "grpcweb", "connect"] as const) {
    test(`buf curl over ${protocol}: a fan-out delivery, then the revocation's error with its ErrorInfo`, async () => {
      const connectionId = await rig.connect();
      const inFanout = rig.server.app.watchFanout.watcherCount();
      const onDedicatedPath = rig.server.app.watchH2.counts().served;
      const curl = run(BUF, [
        "curl",
        "--protocol",
        protocol,
        "--http2-prior-knowledge",
        "--schema",
        join(REPO, "proto"),
        "-H",
        `authorization: Bearer ${rig.server.agentKey}`,
        "-d",
        JSON.stringify({ connection_id: connectionId }),
        `${rig.server.baseUrl}/nexus.v1.TokenService/WatchCredentials`,
      ]);
      try {
        await eventually(() => versionsIn(curl.out.stdout).length > 0, 60_000, `buf curl's first credential (${curl.out.stderr})`);
        await eventually(() => rig.server.app.watchFanout.watcherCount() > inFanout, 20_000, "the stream in the fan-out");
        assert.ok(rig.server.app.watchH2.counts().served > onDedicatedPath, "served on the dedicated HTTP/2 path (rpc/watch-h2.ts)");
        const first = Math.max(...versionsIn(curl.out.stdout));
        const next = Number((await rig.tokens.refreshConnection({ connectionId })).credential!.version);
        assert.ok(next > first);
        await eventually(() => versionsIn(curl.out.stdout).includes(next), 20_000, "the fan-out's delivery");
        await admin().revokeConnection({ connectionId });
        const code = await curl.exited;
        assert.notEqual(code, 0, "buf curl reports the error");
        assert.match(curl.out.stderr, /failed_precondition/i, curl.out.stderr);
        // buf curl decodes the detail (Connect) or prints its bytes (gRPC, gRPC-Web): decode those.
        const value = /"type":\s*"nexus\.v1\.ErrorInfo",\s*"value":\s*"([^"]+)"/.exec(curl.out.stderr)?.[1];
        const reason = value === undefined ? undefined : fromBinary(ErrorInfoSchema, Buffer.from(value, "base64")).reason;
        assert.ok(
          reason === ErrorReason.CONNECTION_REVOKED || /CONNECTION_REVOKED/.test(curl.out.stderr),
          `ErrorInfo CONNECTION_REVOKED in the details: ${curl.out.stderr}`,
        );
      } finally {
        curl.kill();
      }
    });
  }

  describe("@grpc/grpc-js", () => {
    // A generic client with protobuf-es (de)serialisers: grpc-js's own framing, HTTP/2 and status handling.
    const TokenClient = grpc.makeGenericClientConstructor(
      {
        WatchCredentials: {
          path: "/nexus.v1.TokenService/WatchCredentials",
          requestStream: false,
          responseStream: true,
          requestSerialize: (m: WatchCredentialsRequest) => Buffer.from(toBinary(WatchCredentialsRequestSchema, m)),
          requestDeserialize: (b: Buffer) => fromBinary(WatchCredentialsRequestSchema, b),
          responseSerialize: (m: WatchCredentialsResponse) => Buffer.from(toBinary(WatchCredentialsResponseSchema, m)),
          responseDeserialize: (b: Buffer) => fromBinary(WatchCredentialsResponseSchema, b),
        },
      },
      "TokenService",
    );

    function watch(connectionId: string, deadlineMs?: number) {
      const client = new TokenClient(rig.server.baseUrl.replace("http://", ""), grpc.credentials.createInsecure());
      const metadata = new grpc.Metadata();
      metadata.set("authorization", `Bearer ${rig.server.agentKey}`);
      const call = (
        client as unknown as {
          WatchCredentials(
            r: WatchCredentialsRequest,
            m: grpc.Metadata,
            o: grpc.CallOptions,
          ): grpc.ClientReadableStream<WatchCredentialsResponse>;
        }
      ).WatchCredentials(
        create(WatchCredentialsRequestSchema, { connectionId }),
        metadata,
        deadlineMs === undefined ? {} : { deadline: new Date(Date.now() + deadlineMs) },
      );
      const versions: number[] = [];
      const statuses: string[] = [];
      call.on("data", (res: WatchCredentialsResponse) => {
        if (res.event.case === "credential") versions.push(Number(res.event.value.version));
        if (res.event.case === "status") statuses.push(String(res.event.value.status));
      });
      const ended = new Promise<grpc.ServiceError | undefined>((resolve) => {
        call.on("error", (err: grpc.ServiceError) => resolve(err));
        call.on("end", () => resolve(undefined));
      });
      return { call, versions, statuses, ended, close: () => client.close() };
    }

    test("a fan-out delivery, then the revocation's FAILED_PRECONDITION with ErrorInfo in the trailers", async () => {
      const connectionId = await rig.connect();
      const inFanout = rig.server.app.watchFanout.watcherCount();
      const onDedicatedPath = rig.server.app.watchH2.counts().served;
      const stream = watch(connectionId);
      try {
        await eventually(() => stream.versions.length > 0, 20_000, "grpc-js's first credential");
        await eventually(() => rig.server.app.watchFanout.watcherCount() > inFanout, 20_000, "the stream in the fan-out");
        assert.ok(rig.server.app.watchH2.counts().served > onDedicatedPath, "served on the dedicated HTTP/2 path (rpc/watch-h2.ts)");
        const next = Number((await rig.tokens.refreshConnection({ connectionId })).credential!.version);
        await eventually(() => stream.versions.includes(next), 20_000, "the fan-out's delivery");
        await admin().revokeConnection({ connectionId });
        const error = await stream.ended;
        assert.equal(error?.code, grpc.status.FAILED_PRECONDITION, error?.message);
        const details = error.metadata.get("grpc-status-details-bin")[0];
        assert.ok(Buffer.isBuffer(details), "status details in the trailers");
        assert.ok(details.includes(Buffer.from(connectionId)), "the ErrorInfo names the connection");
        assert.equal(stream.statuses.length, 1, "one status event before the end");
      } finally {
        stream.close();
      }
    });

    test("cancelling a call leaves the fan-out; a deadline ends one with DEADLINE_EXCEEDED", async () => {
      const connectionId = await rig.connect();
      const inFanout = rig.server.app.watchFanout.watcherCount();
      const onDedicatedPath = rig.server.app.watchH2.counts().served;
      const cancelled = watch(connectionId);
      const timed = watch(connectionId, 2_000);
      try {
        await eventually(() => cancelled.versions.length > 0 && timed.versions.length > 0, 20_000, "first credentials");
        await eventually(() => rig.server.app.watchFanout.watcherCount() === inFanout + 2, 20_000, "both in the fan-out");
        assert.equal(rig.server.app.watchH2.counts().served, onDedicatedPath + 2, "both served on the dedicated HTTP/2 path");
        cancelled.call.cancel();
        assert.equal((await cancelled.ended)?.code, grpc.status.CANCELLED);
        await eventually(() => rig.server.app.watchFanout.watcherCount() === inFanout + 1, 20_000, "the cancelled call left");
        assert.equal((await timed.ended)?.code, grpc.status.DEADLINE_EXCEEDED);
        await eventually(() => rig.server.app.watchFanout.watcherCount() === inFanout, 20_000, "the timed-out call left");
      } finally {
        cancelled.close();
        timed.close();
      }
    });
  });

  describe("Python grpcio", () => {
    const missing = [
      ...["protoc", "grpc_python_plugin"].filter((tool) => spawnSync("which", [tool]).status !== 0),
      ...(spawnSync("/usr/bin/python3", ["-c", "import grpc, google.protobuf"]).status !== 0 ? ["python3-grpcio"] : []),
    ];
    const skip = missing.length > 0 && !process.env.CI ? `missing ${missing.join(", ")}` : false;

    /** Generates the stubs (as the README's recipe) and writes the watching script; returns PYTHONPATH. */
    let stubs = "";
    const prepare = () => {
      if (stubs !== "") return stubs;
      stubs = join(scratch, "nexus_py");
      execFileSync("mkdir", ["-p", stubs]);
      execFileSync(
        "sh",
        [
          "-c",
          `protoc -I proto/third_party -I proto --python_out=${stubs} --grpc_out=${stubs} --plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin proto/nexus/v1/*.proto proto/third_party/google/api/*.proto proto/third_party/google/rpc/*.proto`,
        ],
        { cwd: REPO },
      );
      writeFileSync(join(scratch, "watch.py"), PYTHON_WATCH);
      return stubs;
    };

    test("a fan-out delivery, then the revocation's FAILED_PRECONDITION with status details in the trailers", { skip }, async () => {
      const connectionId = await rig.connect();
      const inFanout = rig.server.app.watchFanout.watcherCount();
      const onDedicatedPath = rig.server.app.watchH2.counts().served;
      const py = run("/usr/bin/python3", [join(scratch, "watch.py"), rig.server.baseUrl.replace("http://", ""), connectionId, "0"], {
        PYTHONPATH: prepare(),
        NEXUS_KEY: rig.server.agentKey,
      });
      try {
        await eventually(() => versionsIn(py.out.stdout).length > 0, 60_000, `Python's first credential (${py.out.stderr})`);
        await eventually(() => rig.server.app.watchFanout.watcherCount() > inFanout, 20_000, "the stream in the fan-out");
        assert.ok(rig.server.app.watchH2.counts().served > onDedicatedPath, "served on the dedicated HTTP/2 path (rpc/watch-h2.ts)");
        const next = Number((await rig.tokens.refreshConnection({ connectionId })).credential!.version);
        await eventually(() => versionsIn(py.out.stdout).includes(next), 20_000, "the fan-out's delivery");
        await admin().revokeConnection({ connectionId });
        assert.equal(await py.exited, 0, py.out.stderr);
        assert.match(py.out.stdout, /status=REVOKED/, "the status event before the end");
        assert.match(py.out.stdout, /error=FAILED_PRECONDITION details=yes/, py.out.stdout);
      } finally {
        py.kill();
      }
    });

    test("a deadline ends a stream held by the fan-out with DEADLINE_EXCEEDED", { skip }, async () => {
      const connectionId = await rig.connect();
      const onDedicatedPath = rig.server.app.watchH2.counts().served;
      const py = run("/usr/bin/python3", [join(scratch, "watch.py"), rig.server.baseUrl.replace("http://", ""), connectionId, "3"], {
        PYTHONPATH: prepare(),
        NEXUS_KEY: rig.server.agentKey,
      });
      try {
        assert.equal(await py.exited, 0, py.out.stderr);
        assert.equal(versionsIn(py.out.stdout).length, 1, py.out.stdout);
        assert.match(py.out.stdout, /error=DEADLINE_EXCEEDED/, py.out.stdout);
        assert.equal(rig.server.app.watchH2.counts().served, onDedicatedPath + 1, "served on the dedicated HTTP/2 path");
      } finally {
        py.kill();
      }
    });
  });
});

/** Watches one connection (optional deadline, s); prints each event and how the stream ended. */
const PYTHON_WATCH = `
import os, sys, grpc
from nexus.v1 import tokens_pb2, tokens_pb2_grpc, status_pb2

target, connection_id, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
with grpc.insecure_channel(target) as channel:
    stub = tokens_pb2_grpc.TokenServiceStub(channel)
    stream = stub.WatchCredentials(
        tokens_pb2.WatchCredentialsRequest(connection_id=connection_id),
        metadata=[("authorization", "Bearer " + os.environ["NEXUS_KEY"])],
        timeout=timeout if timeout > 0 else None,
    )
    try:
        for event in stream:
            kind = event.WhichOneof("event")
            if kind == "credential":
                print("version=%d" % event.credential.version, flush=True)
            elif kind == "status":
                print("status=%s" % status_pb2.ConnectionStatus.Name(event.status.status).replace("CONNECTION_STATUS_", ""), flush=True)
        print("end=ok", flush=True)
    except grpc.RpcError as error:
        details = any(key == "grpc-status-details-bin" for key, _ in (error.trailing_metadata() or ()))
        print("error=%s details=%s" % (error.code().name, "yes" if details else "no"), flush=True)
`;
