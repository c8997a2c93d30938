/**
 * Security review finding 7: RevokeApiKey refuses the key in this process before the store write,
 * so a write that certainly did not happen (the store says the id is unknown, or refuses) must not
 * leave a valid key refused until restart; a write whose outcome is unknown (store unavailable)
 * keeps the key refused (fail closed) and says so in the log. Over REST, Connect and gRPC.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { NotFoundError, StoreUnavailableError } from "../server/domain/errors.ts";
import type { ApiKeyRecord } from "../server/store/store.ts";
import { type CallSpec, callOver, PROTOCOLS } from "./support/protocol-calls.ts";
import { createRawClient, type RawClient } from "./support/raw-client.ts";
import { startServer, type TestServer } from "./support/start-server.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/key-revocation-undo.test.ts", () => {
  let server: TestServer;
  let client: RawClient;
  before(async () => {
    server = await startServer();
    client = createRawClient(server.baseUrl);
  });
  after(async () => {
    client?.close();
    await server?.close();
  });

  /** Makes the store's next revokeApiKey fail with `err` (without writing). */
  function failNextRevoke(err: Error): void {
    const store = server.app.store;
    const original = store.revokeApiKey.bind(store);
    store.revokeApiKey = (id: string): Promise<ApiKeyRecord> => {
      store.revokeApiKey = original;
      return Promise.reject(err);
    };
  }

  function revoke(keyId: string): CallSpec {
    return {
      rpc: "ApiKeyService/RevokeApiKey",
      json: { key_id: keyId },
      rest: { method: "POST", path: `/v1/api-keys/${keyId}:revoke` },
      headers: server.auth(server.adminKey),
    };
  }

  /** The outcome of a call the key may make (ListProviders). */
  async function useKey(secret: string): Promise<string> {
    const spec: CallSpec = {
      rpc: "ProviderService/ListProviders",
      json: {},
      rest: { method: "GET", path: "/v1/providers" },
      headers: server.auth(secret),
    };
    return (await callOver(client, "grpc", spec)).code;
  }

  for (const protocol of PROTOCOLS) {
    test(`over ${protocol}: a revocation the store refused (id not found) does not leave the key refused`, async () => {
      const key = await server.createKey({ role: "agent", name: `undo ${protocol}` });
      assert.equal(await useKey(key.secret), "ok");
      failNextRevoke(new NotFoundError("api_key", key.keyId));
      const outcome = await callOver(client, protocol, revoke(key.keyId));
      assert.equal(outcome.code, "not_found", `${protocol}: ${outcome.message}`);
      assert.equal(await useKey(key.secret), "ok", "the key still works: its revocation never happened");
    });
  }

  test("a revocation whose outcome is unknown (store unavailable) keeps the key refused and logs it", async () => {
    const key = await server.createKey({ role: "agent", name: "unknown outcome" });
    failNextRevoke(new StoreUnavailableError("connection lost"));
    const outcome = await callOver(client, "connect", revoke(key.keyId));
    assert.equal(outcome.code, "unavailable", outcome.message);
    assert.equal(await useKey(key.secret), "unauthenticated", "fail closed: this process keeps refusing the key");
    assert.match(server.logs(), /RevokeApiKey failed with an unknown outcome/);
  });

  test("revoking an unknown key id answers not_found and leaves nothing behind", async () => {
    for (const protocol of PROTOCOLS) {
      const outcome = await callOver(client, protocol, revoke(`key_unknown_${protocol}`));
      assert.deepEqual([outcome.code, outcome.reason], ["not_found", "API_KEY_NOT_FOUND"], protocol);
    }
    assert.doesNotMatch(server.logs(), /unknown outcome.*key_unknown_/);
  });
});
