/**
 * Security review finding 1: a unary call already in flight when its API key is revoked gets no
 * credential. RefreshConnection passes authentication, waits for the provider (held here until the
 * key is revoked), and then answers unauthenticated (API_KEY_REVOKED) over REST, Connect and gRPC;
 * the audit log has the refusal under the key and no "ok" row.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ApiKeyService, Role } from "../gen/nexus/v1/api_keys_pb.ts";
import { AuditService } from "../gen/nexus/v1/audit_pb.ts";
import { callOver, PROTOCOLS } from "./support/protocol-calls.ts";
import { createRawClient, type RawClient } from "./support/raw-client.ts";
import { type RefreshRig, startRefreshRig } from "./support/refresh-rig.ts";
import { TEST_TENANT } from "./support/start-server.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/key-revocation-unary.test.ts", () => {
  /** Holds the next refresh_token request to the provider until released. */
  function createGate() {
    let armed: { held: PromiseWithResolvers<void>; release: PromiseWithResolvers<void> } | undefined;
    return {
      arm() {
        armed = { held: Promise.withResolvers<void>(), release: Promise.withResolvers<void>() };
        return armed;
      },
      async pass(body: unknown): Promise<void> {
        const current = armed;
        if (current === undefined || !String(body).includes("refresh_token")) return;
        armed = undefined;
        current.held.resolve();
        await current.release.promise;
      },
    };
  }

  const gate = createGate();
  let rig: RefreshRig;
  let raw: RawClient;
  let connectionId: string;
  before(async () => {
    rig = await startRefreshRig({
      accessTtlSeconds: 3600,
      wrapFetch: (fetch) => async (url, init) => {
        await gate.pass(init?.body);
        return fetch(url, init);
      },
    });
    connectionId = await rig.connect();
    raw = createRawClient(rig.server.baseUrl);
  });
  after(async () => {
    raw?.close();
    await rig?.close();
  });

  function admin() {
    const transport = createGrpcTransport({ baseUrl: rig.server.baseUrl, interceptors: [rig.server.bearer(rig.server.adminKey)] });
    return { keys: createClient(ApiKeyService, transport), audit: createClient(AuditService, transport) };
  }

  for (const protocol of PROTOCOLS) {
    test(`over ${protocol}: RefreshConnection in flight when its key is revoked answers unauthenticated, audited as such`, async () => {
      const created = await admin().keys.createApiKey({ name: `unary ${protocol}`, role: Role.AGENT, tenantId: TEST_TENANT });
      const keyId = created.apiKey!.keyId;
      const { held, release } = gate.arm();
      const call = callOver(raw, protocol, {
        rpc: "TokenService/RefreshConnection",
        json: { connectionId },
        rest: { method: "POST", path: `/v1/refresh/${connectionId}` },
        headers: { authorization: `Bearer ${created.secret}` },
      });
      try {
        await held.promise;
        await admin().keys.revokeApiKey({ keyId });
      } finally {
        release.resolve();
      }
      const outcome = await call;
      assert.equal(outcome.code, "unauthenticated", `${protocol}: ${JSON.stringify(outcome)}`);
      assert.equal(outcome.reason, "API_KEY_REVOKED", protocol);

      await rig.server.app.audit.flush();
      const { events } = await admin().audit.listAuditEvents({ keyId, pageSize: 100 });
      assert.deepEqual(
        events.filter((e) => e.action === "token.refresh").map((e) => e.result),
        ["unauthenticated"],
        "the refresh is audited as refused, never ok",
      );
    });
  }
});
