/**
 * createNexusClient: every service reachable over every protocol with the API key attached, a
 * custom transport still authenticated, and the error helpers reading ErrorInfo, not messages.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  AttentionRequiredError,
  ConnectionRevokedError,
  createNexusClient,
  errorInfo,
  isAttentionRequired,
  isNotFound,
  isRevoked,
  type NexusClientOptions,
  NexusUnavailableError,
  toClientError,
} from "../client/index.ts";
import { ErrorInfoSchema, ErrorReason } from "../gen/nexus/v1/errors_pb.ts";
import { ConnectionStatus } from "../gen/nexus/v1/status_pb.ts";
import { type ScriptedNexus, startScriptedNexus } from "./support/scripted-nexus.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/client-nexus-client.test.ts", () => {
  let nexus: ScriptedNexus;
  beforeEach(async () => {
    nexus = await startScriptedNexus();
    nexus.addConnection("c");
  });
  afterEach(() => nexus.close());

  for (const variant of [
    { name: "connect (HTTP/2, default)", options: {} },
    { name: "connect HTTP/1.1", options: { httpVersion: "1.1" } },
    { name: "grpc", options: { protocol: "grpc" } },
    { name: "grpc-web", options: { protocol: "grpc-web" } },
    { name: "grpc-web HTTP/1.1", options: { protocol: "grpc-web", httpVersion: "1.1" } },
    { name: "connect over fetch", options: { fetch: globalThis.fetch } },
  ] satisfies Array<{ name: string; options: Partial<NexusClientOptions> }>) {
    test(`every service answers over ${variant.name}, with the API key on every call`, async () => {
      const client = createNexusClient({ baseUrl: nexus.baseUrl, apiKey: "secret-key", ...variant.options });
      try {
        assert.equal((await client.connections.checkConnection({ connectionId: "c" })).status, ConnectionStatus.ACTIVE);
        assert.equal((await client.tokens.getToken({ connectionId: "c" })).credential?.version, 1n);
        assert.equal((await client.providers.listProviders({})).providers[0]?.name, "scripted");
        await client.apiKeys.listApiKeys({});
        await client.audit.listAuditEvents({});
        assert.deepEqual(nexus.calls.methods, ["CheckConnection", "GetToken", "ListProviders", "ListApiKeys", "ListAuditEvents"]);
        assert.deepEqual(new Set(nexus.calls.authorization), new Set(["Bearer secret-key"]));
      } finally {
        client.close();
      }
    });
  }

  test("a caller-supplied transport still carries the API key", async () => {
    const transport = createConnectTransport({ baseUrl: nexus.baseUrl, httpVersion: "1.1" });
    const client = createNexusClient({ baseUrl: "unused", apiKey: "k2", transport });
    await client.tokens.getToken({ connectionId: "c" });
    for await (const _ of client.tokens.watchCredentials({ connectionId: "c" }, { signal: AbortSignal.timeout(2_000) })) break;
    assert.deepEqual(nexus.calls.authorization, ["Bearer k2", "Bearer k2"]);
  });

  test("no API key, no Authorization header", async () => {
    const client = createNexusClient({ baseUrl: nexus.baseUrl, httpVersion: "1.1" });
    await client.tokens.getToken({ connectionId: "c" });
    assert.deepEqual(nexus.calls.authorization, [null]);
  });

  test("grpc over fetch is refused up front", () => {
    assert.throws(() => createNexusClient({ baseUrl: nexus.baseUrl, protocol: "grpc", fetch: globalThis.fetch }), TypeError);
  });

  test("typed clients surface ConnectErrors with the right codes; helpers read the ErrorInfo detail", async () => {
    const client = createNexusClient({ baseUrl: nexus.baseUrl, protocol: "grpc" });
    try {
      nexus.addConnection("revoked");
      nexus.setStatus("revoked", ConnectionStatus.REVOKED);
      nexus.addConnection("attention");
      nexus.setStatus("attention", ConnectionStatus.ATTENTION_REQUIRED);

      const revoked = await client.tokens.getToken({ connectionId: "revoked" }).catch((e: unknown) => e);
      assert.ok(revoked instanceof ConnectError);
      assert.equal(revoked.code, Code.FailedPrecondition);
      assert.equal(errorInfo(revoked)?.reason, ErrorReason.CONNECTION_REVOKED);
      assert.ok(isRevoked(revoked) && !isAttentionRequired(revoked) && !isNotFound(revoked));

      const attention = await client.tokens.getToken({ connectionId: "attention" }).catch((e: unknown) => e);
      assert.ok(isAttentionRequired(attention) && !isRevoked(attention));
      assert.ok(toClientError(attention, "attention") instanceof AttentionRequiredError);
      assert.ok(toClientError(revoked, "revoked") instanceof ConnectionRevokedError);

      const missing = await client.tokens.getToken({ connectionId: "missing" }).catch((e: unknown) => e);
      assert.ok(missing instanceof ConnectError && missing.code === Code.NotFound);
      assert.ok(isNotFound(missing) && !isRevoked(missing));
    } finally {
      client.close();
    }
  });

  test("helpers ignore message text: only the detail counts", () => {
    const misleading = new ConnectError("connection revoked, needs attention, not found", Code.FailedPrecondition);
    assert.ok(!isRevoked(misleading) && !isAttentionRequired(misleading) && !isNotFound(misleading));
    const detailed = new ConnectError("opaque", Code.FailedPrecondition, undefined, [
      { desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason: ErrorReason.CONNECTION_NEEDS_ATTENTION }) },
    ]);
    assert.ok(isAttentionRequired(detailed));
    assert.ok(toClientError(new ConnectError("down", Code.Unavailable), "c") instanceof NexusUnavailableError);
    assert.ok(isRevoked(new ConnectionRevokedError("c")));
  });
});
