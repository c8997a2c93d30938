/**
 * Issue 14 §3: WatchCredentials over HTTP/2 on the dedicated path (server/rpc/watch-h2.ts) answers
 * exactly as connect-node does. The same request, good and bad, goes once through each (the app's
 * per-stream switch) over gRPC, gRPC-Web and Connect, proto and JSON: status, headers, trailers and
 * body bytes (request id aside), the audit rows and the log lines of the call must be the same, and
 * the dedicated path must really have been taken (its counters) — or, for a malformed message,
 * handed the stream back.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ApiKeyService } from "../gen/nexus/v1/api_keys_pb.ts";
import { WatchCredentialsRequestSchema } from "../gen/nexus/v1/tokens_pb.ts";
import { createRawClient, type RawClient, type RawResponse } from "./support/raw-client.ts";
import { type RefreshRig, startRefreshRig } from "./support/refresh-rig.ts";
import { eventually } from "./support/wait.ts";

const PATH = "/nexus.v1.TokenService/WatchCredentials";
/** NEXUS_MAX_BODY_BYTES for this server (small, so an oversized body is cheap to send). */
const MAX_BODY_BYTES = 64 * 1024;

const PROTOCOLS = [
  { name: "gRPC proto", type: "application/grpc", json: false, timeout: (ms: number) => ({ "grpc-timeout": `${ms}m` }) },
  { name: "gRPC JSON", type: "application/grpc+json", json: true, timeout: (ms: number) => ({ "grpc-timeout": `${ms}m` }) },
  { name: "gRPC-Web proto", type: "application/grpc-web+proto", json: false, timeout: (ms: number) => ({ "grpc-timeout": `${ms}m` }) },
  {
    name: "Connect proto",
    type: "application/connect+proto",
    json: false,
    timeout: (ms: number) => ({ "connect-timeout-ms": String(ms) }),
  },
  { name: "Connect JSON", type: "application/connect+json", json: true, timeout: (ms: number) => ({ "connect-timeout-ms": String(ms) }) },
] as const;
type Protocol = (typeof PROTOCOLS)[number];

describe("test/watch-h2-parity.test.ts", () => {
  let isDirect = true;
  let rig: RefreshRig;
  let raw: RawClient;
  let connectionId = "";
  let sequence = 0;
  /** Keys made per call: their ids differ between the two runs, so they are masked. */
  const freshKeyIds: string[] = [];
  before(async () => {
    rig = await startRefreshRig({
      accessTtlSeconds: 3600,
      overrides: { isWatchH2Enabled: () => isDirect },
      env: { NEXUS_MAX_BODY_BYTES: String(MAX_BODY_BYTES) },
    });
    connectionId = await rig.connect();
    raw = createRawClient(rig.server.baseUrl);
  });
  after(async () => {
    raw?.close();
    await rig?.close();
  });

  const envelope = (payload: Uint8Array) => {
    const out = Buffer.alloc(5 + payload.byteLength);
    out.writeUInt32BE(payload.byteLength, 1);
    out.set(payload, 5);
    return out;
  };
  const message = (protocol: Protocol, init: { connectionId: string; afterVersion?: bigint }) => {
    const m = create(WatchCredentialsRequestSchema, init);
    return envelope(
      protocol.json ? Buffer.from(toJsonString(WatchCredentialsRequestSchema, m)) : toBinary(WatchCredentialsRequestSchema, m),
    );
  };

  interface Call {
    protocol: Protocol;
    key: () => Promise<string | undefined>;
    body: Uint8Array;
    headers?: Record<string, string>;
    /** Runs once the stream is open and attached to the fan-out (then the call is ended by it). */
    during?: (key: string | undefined) => Promise<void>;
  }

  /** Sends the call; returns what came back, with its audit rows and log lines, request id masked. */
  async function send(call: Call) {
    sequence += 1;
    // Of one length on both paths: gRPC-Web's trailer frame and Connect's end-stream carry it.
    const requestId = `parity-${String(sequence).padStart(5, "0")}-${isDirect ? "h2" : "cn"}`;
    const key = await call.key();
    const inFanout = rig.server.app.watchFanout.watcherCount();
    const pending = raw.send(
      {
        transport: "h2",
        method: "POST",
        path: PATH,
        headers: {
          "content-type": call.protocol.type,
          "x-request-id": requestId,
          ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
          ...call.headers,
        },
        body: call.body,
      },
      20_000,
    );
    if (call.during !== undefined) {
      await eventually(() => rig.server.app.watchFanout.watcherCount() > inFanout, 10_000, "the stream in the fan-out");
      await call.during(key);
    }
    const response: RawResponse = await pending;
    await rig.server.app.audit.flush();
    const audit = (await rig.server.app.store.listAuditEvents({}, { pageSize: 200 })).items
      .filter((e) => e.requestId === requestId)
      .map(({ action, result, keyId, tenantId, connectionId: id, details }) => ({
        action,
        result,
        keyId,
        tenantId,
        connectionId: id,
        details,
      }));
    const logs = rig.server
      .logs()
      .split("\n")
      .filter((line) => line.includes(requestId))
      .map((line) => {
        const { level, msg, result, rpc } = JSON.parse(line) as Record<string, unknown>;
        return { level, msg, result, rpc };
      });
    const { date: _date, ...headers } = response.headers;
    const wire = {
      status: response.status,
      headers,
      trailers: response.trailers,
      body: response.body.toString("latin1"),
      error: response.error,
      timedOut: response.timedOut,
    };
    let text = JSON.stringify({ wire, audit, logs }).replaceAll(requestId, "<request-id>");
    for (const id of freshKeyIds) text = text.replaceAll(id, "<fresh-key>");
    return JSON.parse(text) as unknown;
  }

  /** The call through the dedicated path, then through connect-node: both the same. */
  async function parity(call: Call, expect: "served" | "handed back") {
    const before = rig.server.app.watchH2.counts();
    isDirect = true;
    const direct = await send(call);
    const between = rig.server.app.watchH2.counts();
    if (expect === "served") assert.equal(between.served, before.served + 1, "the dedicated path served the call");
    else assert.deepEqual(between, { served: before.served, handedOff: before.handedOff + 1 }, "the dedicated path handed it back");
    isDirect = false;
    const adapter = await send(call);
    assert.deepEqual(rig.server.app.watchH2.counts(), between, "the second call went through connect-node");
    assert.deepEqual(direct, adapter);
    return direct as { wire: { status: number; trailers: Record<string, string>; body: string } };
  }

  const agent = async () => rig.server.agentKey;
  const newKey = (tenantId?: string) => async () => {
    const key = await rig.server.createKey({ role: "agent", tenantId });
    freshKeyIds.push(key.keyId);
    return key.secret;
  };

  for (const protocol of PROTOCOLS) {
    describe(protocol.name, () => {
      test("no key, a bad key: unauthenticated, audited as denied", async () => {
        await parity({ protocol, key: async () => undefined, body: message(protocol, { connectionId }) }, "served");
        const bad = await parity({ protocol, key: async () => "nx_not-a-key", body: message(protocol, { connectionId }) }, "served");
        assert.match(JSON.stringify(bad), /API( |%20)key( |%20)not( |%20)recognised/);
      });

      test("an unknown connection, another tenant's connection, a negative after_version", async () => {
        const unknown = await parity({ protocol, key: agent, body: message(protocol, { connectionId: "conn_nothing_here" }) }, "served");
        assert.match(JSON.stringify(unknown), /not.?found/i);
        await parity({ protocol, key: newKey("other-tenant"), body: message(protocol, { connectionId }) }, "served");
        await parity({ protocol, key: agent, body: message(protocol, { connectionId, afterVersion: -1n }) }, "served");
      });

      test("a malformed message, an empty body, two messages: handed to connect-node", async () => {
        await parity({ protocol, key: agent, body: Buffer.from([0, 0, 0, 0, 3, 0xff, 0xff, 0xff]) }, "handed back");
        await parity({ protocol, key: agent, body: Buffer.alloc(0) }, "handed back");
        const one = message(protocol, { connectionId });
        await parity({ protocol, key: agent, body: Buffer.concat([one, one]) }, "handed back");
      });

      test("a body over the size limit: handed to connect-node while it still arrives", async () => {
        // One message's envelope announcing more than the limit, and more bytes than it: the
        // dedicated path gives the stream back mid-body (the bytes read so far are replayed).
        const big = Buffer.alloc(5 + MAX_BODY_BYTES + 1024, 0x61);
        big[0] = 0;
        big.writeUInt32BE(MAX_BODY_BYTES + 1024, 1);
        await parity({ protocol, key: agent, body: big }, "handed back");
      });

      test("a well-formed message over the claim's 16 KiB: handed to connect-node before it is authenticated", async () => {
        // Under the body limit (64 KiB here), so connect-node reads it and answers it (an id too long);
        // the dedicated path never buffers that much for a request nobody has authenticated yet.
        await parity(
          { protocol, key: async () => undefined, body: message(protocol, { connectionId: "c".repeat(20_000) }) },
          "handed back",
        );
      });

      test("a deadline: the current credential, then deadline exceeded", async () => {
        const timed = await parity(
          { protocol, key: agent, body: message(protocol, { connectionId }), headers: protocol.timeout(600) },
          "served",
        );
        assert.match(JSON.stringify(timed), /deadline|4"/i);
      });

      test("the key revoked during the stream: unauthenticated API_KEY_REVOKED, same audit rows", async () => {
        const admin = createClient(
          ApiKeyService,
          createGrpcTransport({ baseUrl: rig.server.baseUrl, interceptors: [rig.server.bearer(rig.server.adminKey)] }),
        );
        let keyId = "";
        const revoked = await parity(
          {
            protocol,
            key: async () => {
              const key = await rig.server.createKey({ role: "agent" });
              keyId = key.keyId;
              freshKeyIds.push(keyId);
              return key.secret;
            },
            body: message(protocol, { connectionId }),
            during: async () => {
              await admin.revokeApiKey({ keyId });
            },
          },
          "served",
        );
        assert.match(JSON.stringify(revoked), /API( |%20)key( |%20)revoked/);
      });
    });
  }
});
