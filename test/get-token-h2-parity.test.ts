/**
 * Issue 14 §1: GetToken over HTTP/2 on the dedicated path (server/rpc/unary-h2.ts) answers exactly
 * as connect-node does. The same request, good and bad, goes once through each (the app's
 * per-stream switch) over gRPC, gRPC-Web and Connect unary, proto and JSON: status, headers
 * (date aside), trailers and body bytes, the audit rows and the log lines of the call must be the
 * same, and the dedicated path must really have served the call (its counters) — or, for input it
 * leaves to connect-node, handed the stream back.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { create, fromBinary, fromJsonString, toBinary, toJson, toJsonString } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { type GetTokenRequest, GetTokenRequestSchema, type GetTokenResponse, GetTokenResponseSchema } from "../gen/nexus/v1/tokens_pb.ts";
import { createRawClient, type RawClient, type RawResponse } from "./support/raw-client.ts";
import { type RefreshRig, startRefreshRig, storedTokens } from "./support/refresh-rig.ts";
import { eventually } from "./support/wait.ts";

const PATH = "/nexus.v1.TokenService/GetToken";
const MAX_BODY_BYTES = 64 * 1024;
const HOUR_MS = 3_600_000;

const PROTOCOLS = [
  { name: "gRPC proto", type: "application/grpc", json: false, enveloped: true, timeout: (ms: number) => ({ "grpc-timeout": `${ms}m` }) },
  {
    name: "gRPC JSON",
    type: "application/grpc+json",
    json: true,
    enveloped: true,
    timeout: (ms: number) => ({ "grpc-timeout": `${ms}m` }),
  },
  {
    name: "gRPC-Web proto",
    type: "application/grpc-web+proto",
    json: false,
    enveloped: true,
    timeout: (ms: number) => ({ "grpc-timeout": `${ms}m` }),
  },
  {
    name: "gRPC-Web JSON",
    type: "application/grpc-web+json",
    json: true,
    enveloped: true,
    timeout: (ms: number) => ({ "grpc-timeout": `${ms}m` }),
  },
  {
    name: "Connect proto",
    type: "application/proto",
    json: false,
    enveloped: false,
    timeout: (ms: number) => ({ "connect-timeout-ms": String(ms) }),
  },
  {
    name: "Connect JSON",
    type: "application/json",
    json: true,
    enveloped: false,
    timeout: (ms: number) => ({ "connect-timeout-ms": String(ms) }),
  },
] as const;
type Protocol = (typeof PROTOCOLS)[number];

describe("test/get-token-h2-parity.test.ts", () => {
  let isDirect = true;
  let clockOffsetMs = 0;
  let providerGate: Promise<void> = Promise.resolve();
  let rig: RefreshRig;
  let raw: RawClient;
  let connectionId = "";
  let sequence = 0;
  const freshKeyIds: string[] = [];
  before(async () => {
    rig = await startRefreshRig({
      accessTtlSeconds: 3600,
      overrides: { isUnaryH2Enabled: () => isDirect, now: () => Date.now() + clockOffsetMs },
      // Provider calls wait while a test holds them (a refresh slower than the client's deadline).
      wrapFetch: (fetch) => async (url, init) => {
        await providerGate;
        return fetch(url, init);
      },
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
  const frame = (protocol: Protocol, payload: Uint8Array) => (protocol.enveloped ? envelope(payload) : Buffer.from(payload));
  const message = (protocol: Protocol, id: string) => {
    const m = create(GetTokenRequestSchema, { connectionId: id });
    return frame(protocol, protocol.json ? Buffer.from(toJsonString(GetTokenRequestSchema, m)) : toBinary(GetTokenRequestSchema, m));
  };

  interface Call {
    protocol: Protocol;
    key: () => Promise<string | undefined>;
    body: Uint8Array;
    headers?: Record<string, string>;
    /** Before each of the two runs. */
    beforeEach?: () => void | Promise<void>;
    /** After the answer, before the audit rows are read (what the call started has ended). */
    settle?: () => Promise<void>;
    /** The credential differs per run (a refresh): compare the decoded answer with its values masked. */
    isMasked?: boolean;
  }

  /** The decoded answer of a success, the credential's changing values masked. */
  function maskedBody(protocol: Protocol, response: RawResponse): unknown {
    let bytes = response.body;
    if (protocol.enveloped) bytes = bytes.subarray(5, 5 + bytes.readUInt32BE(1));
    const m = protocol.json
      ? fromJsonString(GetTokenResponseSchema, bytes.toString("utf8"))
      : fromBinary(GetTokenResponseSchema, new Uint8Array(bytes));
    const json = toJson(GetTokenResponseSchema, m) as { credential?: Record<string, unknown> };
    for (const key of Object.keys(json.credential ?? {})) if (/token|expir|version|At$/i.test(key)) json.credential![key] = "<masked>";
    if (json.credential?.credentials !== undefined) json.credential.credentials = "<masked>";
    return json;
  }

  async function send(call: Call) {
    sequence += 1;
    const requestId = `parity-${String(sequence).padStart(5, "0")}-${isDirect ? "h2" : "cn"}`;
    const key = await call.key();
    const response: RawResponse = await raw.send(
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
    await call.settle?.();
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
        const { level, msg, result, rpc, code, reason } = JSON.parse(line) as Record<string, unknown>;
        return { level, msg, result, rpc, code, reason };
      });
    const { date: _date, ...headers } = response.headers;
    if (call.isMasked === true) delete headers["content-length"];
    const wire = {
      status: response.status,
      headers,
      trailers: response.trailers,
      body: call.isMasked === true ? maskedBody(call.protocol, response) : response.body.toString("latin1"),
      error: response.error,
      timedOut: response.timedOut,
    };
    let text = JSON.stringify({ wire, audit, logs }).replaceAll(requestId, "<request-id>");
    for (const id of freshKeyIds) text = text.replaceAll(id, "<fresh-key>");
    return JSON.parse(text) as unknown;
  }

  /** The call through the dedicated path, then through connect-node: both the same. */
  async function parity(call: Call, expect: "served" | "handed back" | "not claimed") {
    const before = rig.server.app.unaryH2.counts();
    isDirect = true;
    await call.beforeEach?.();
    const direct = await send(call);
    const between = rig.server.app.unaryH2.counts();
    if (expect === "served")
      assert.deepEqual(between, { served: before.served + 1, handedOff: before.handedOff }, "the dedicated path served the call");
    else if (expect === "handed back")
      assert.deepEqual(between, { served: before.served, handedOff: before.handedOff + 1 }, "the dedicated path handed it back");
    else assert.deepEqual(between, before, "the dedicated path did not claim it");
    isDirect = false;
    await call.beforeEach?.();
    const adapter = await send(call);
    assert.deepEqual(rig.server.app.unaryH2.counts(), between, "the second call went through connect-node");
    assert.deepEqual(direct, adapter);
    return direct as { wire: { status: number; trailers: Record<string, string>; body: unknown } };
  }

  const agent = async () => rig.server.agentKey;
  const newKey = (init: { tenantId?: string; proxyOnly?: boolean }) => async () => {
    const key = await rig.server.app.apiKeys.create({ role: "agent", name: "parity", tenantId: "default", ...init });
    freshKeyIds.push(key.record.id);
    return key.secret;
  };

  for (const protocol of PROTOCOLS) {
    describe(protocol.name, () => {
      test("success: the credential", async () => {
        const ok = await parity({ protocol, key: agent, body: message(protocol, connectionId) }, "served");
        assert.match(JSON.stringify(ok), /token\.read/);
      });

      test("no key, a bad key: unauthenticated, audited as denied", async () => {
        await parity({ protocol, key: async () => undefined, body: message(protocol, connectionId) }, "served");
        const bad = await parity({ protocol, key: async () => "nx_not-a-key", body: message(protocol, connectionId) }, "served");
        assert.match(JSON.stringify(bad), /API( |%20)key( |%20)not( |%20)recognised/);
      });

      test("an unknown connection, another tenant's connection, a proxy-only key", async () => {
        const unknown = await parity({ protocol, key: agent, body: message(protocol, "conn_nothing_here") }, "served");
        assert.match(JSON.stringify(unknown), /not.?found/i);
        await parity({ protocol, key: newKey({ tenantId: "other-tenant" }), body: message(protocol, connectionId) }, "served");
        const proxyOnly = await parity({ protocol, key: newKey({ proxyOnly: true }), body: message(protocol, connectionId) }, "served");
        assert.match(JSON.stringify(proxyOnly), /token_access_disabled/i);
      });

      test("a malformed message, an empty body, two messages", async () => {
        const garbage = protocol.json ? Buffer.from("{") : Buffer.from([0xff, 0xff, 0xff]);
        await parity({ protocol, key: agent, body: frame(protocol, garbage) }, "handed back");
        // An empty Connect proto body is an empty message (the handler refuses it); elsewhere it is no message.
        await parity({ protocol, key: agent, body: Buffer.alloc(0) }, protocol.enveloped || protocol.json ? "handed back" : "served");
        const one = message(protocol, connectionId);
        // Two Connect proto messages back to back are one message (protobuf merges them).
        await parity(
          { protocol, key: agent, body: Buffer.concat([one, one]) },
          protocol.enveloped || protocol.json ? "handed back" : "served",
        );
      });

      test("a body over the size limit: handed to connect-node while it still arrives", async () => {
        const big = Buffer.alloc(5 + MAX_BODY_BYTES + 1024, 0x61);
        if (protocol.enveloped) {
          big[0] = 0;
          big.writeUInt32BE(MAX_BODY_BYTES + 1024, 1);
        }
        await parity({ protocol, key: agent, body: big }, "handed back");
      });

      test("a deadline passing during a held refresh; a generous deadline; a malformed one (not claimed)", async () => {
        // The credential expired and the provider holds the refresh past the client's deadline.
        let release = () => {};
        let from = 0;
        let version = 0;
        const late = await parity(
          {
            protocol,
            key: agent,
            body: message(protocol, connectionId),
            headers: protocol.timeout(300),
            beforeEach: async () => {
              version = (await storedTokens(rig.server.app, connectionId)).version;
              clockOffsetMs += 2 * HOUR_MS;
              from = rig.refreshRequests().length;
              providerGate = new Promise((resolve) => (release = resolve));
            },
            settle: async () => {
              release();
              await eventually(() => rig.refreshRequests(from).length === 1, 10_000, "the held refresh done");
              await eventually(
                async () => (await storedTokens(rig.server.app, connectionId)).version > version,
                10_000,
                "the refresh saved",
              );
            },
          },
          "served",
        );
        // Nexus answers a read whose refresh outlives the deadline as the provider's unavailability (or the deadline).
        assert.match(JSON.stringify(late), /grpc-status(":"|: )(4|14)\b|"status":(504|503)\b/);
        await parity({ protocol, key: agent, body: message(protocol, connectionId), headers: protocol.timeout(60_000) }, "served");
        const malformed: Record<string, string> = protocol.enveloped ? { "grpc-timeout": "soon" } : { "connect-timeout-ms": "soon" };
        await parity({ protocol, key: agent, body: message(protocol, connectionId), headers: malformed }, "not claimed");
      });

      test("an expired credential: refreshed on read, on both paths", async () => {
        const from = rig.refreshRequests().length;
        const refreshed = await parity(
          {
            protocol,
            key: agent,
            body: message(protocol, connectionId),
            isMasked: true,
            beforeEach: () => {
              clockOffsetMs += 2 * HOUR_MS;
            },
          },
          "served",
        );
        assert.equal(refreshed.wire.status, 200);
        assert.ok(rig.refreshRequests(from).length >= 2, "a refresh per path");
      });
    });
  }

  test("accepted response encodings and a Connect protocol version: served, answered uncompressed as connect-node does", async () => {
    const [grpc, , web, , connectProto, connectJson] = PROTOCOLS;
    const accept = { "grpc-accept-encoding": "gzip, deflate", "accept-encoding": "gzip, br" };
    await parity({ protocol: grpc, key: agent, body: message(grpc, connectionId), headers: accept }, "served");
    await parity({ protocol: web, key: agent, body: message(web, connectionId), headers: accept }, "served");
    for (const protocol of [connectProto, connectJson]) {
      await parity({ protocol, key: agent, body: message(protocol, connectionId), headers: { "accept-encoding": "gzip, br" } }, "served");
      await parity({ protocol, key: agent, body: message(protocol, connectionId), headers: { "connect-protocol-version": "1" } }, "served");
      await parity({ protocol, key: agent, body: message(protocol, connectionId), headers: { "connect-protocol-version": "2" } }, "served");
      await parity({ protocol, key: agent, body: message(protocol, connectionId), headers: { "content-encoding": "gzip" } }, "not claimed");
    }
  });

  test("@grpc/grpc-js (a client we did not write): the credential, and a not-found error with its details, served here", async () => {
    const TokenClient = grpc.makeGenericClientConstructor(
      {
        GetToken: {
          path: PATH,
          requestStream: false,
          responseStream: false,
          requestSerialize: (m: GetTokenRequest) => Buffer.from(toBinary(GetTokenRequestSchema, m)),
          requestDeserialize: (b: Buffer) => fromBinary(GetTokenRequestSchema, b),
          responseSerialize: (m: GetTokenResponse) => Buffer.from(toBinary(GetTokenResponseSchema, m)),
          responseDeserialize: (b: Buffer) => fromBinary(GetTokenResponseSchema, b),
        },
      },
      "TokenService",
    );
    const client = new TokenClient(rig.server.baseUrl.replace("http://", ""), grpc.credentials.createInsecure()) as unknown as {
      GetToken(
        r: GetTokenRequest,
        m: grpc.Metadata,
        o: grpc.CallOptions,
        cb: (err: grpc.ServiceError | null, res?: GetTokenResponse) => void,
      ): void;
      close(): void;
    };
    const metadata = new grpc.Metadata();
    metadata.set("authorization", `Bearer ${rig.server.agentKey}`);
    const call = (id: string) =>
      new Promise<{ err: grpc.ServiceError | null; res?: GetTokenResponse }>((resolve) =>
        client.GetToken(create(GetTokenRequestSchema, { connectionId: id }), metadata, { deadline: Date.now() + 20_000 }, (err, res) =>
          resolve({ err, res }),
        ),
      );
    isDirect = true;
    const before = rig.server.app.unaryH2.counts();
    try {
      const ok = await call(connectionId);
      assert.equal(ok.err, null);
      assert.equal(ok.res?.credential?.connectionId, connectionId);
      const missing = await call("conn_nothing_here");
      assert.equal(missing.err?.code, grpc.status.NOT_FOUND, missing.err?.message);
      assert.ok(missing.err?.metadata.get("grpc-status-details-bin").length === 1, "the error's details");
    } finally {
      client.close();
    }
    assert.equal(rig.server.app.unaryH2.counts().served, before.served + 2, "both served on the dedicated path");
  });

  test("request compression and a CORS origin: left to connect-node", async () => {
    const protocol = PROTOCOLS[0];
    await parity({ protocol, key: agent, body: message(protocol, connectionId), headers: { "grpc-encoding": "gzip" } }, "not claimed");
    await parity(
      { protocol, key: agent, body: message(protocol, connectionId), headers: { origin: "https://example.test" } },
      "not claimed",
    );
  });
});
