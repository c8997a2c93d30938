/**
 * TokenReader.readWatched, the watch fan-out's re-read per event, over a real store (the refresh
 * engine is a fake handing back the stored version): one store statement per read, the provider's
 * profile parsed once per text and never served stale after an update, no credential (and no
 * engine call) for a connection that is not usable, tenant scoping as GetToken's.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { openServiceStore } from "../../test/support/service-rig.ts";
import { NotFoundError } from "../domain/errors.ts";
import { openConnection, transition } from "../lifecycle/connection-transition.ts";
import type { ConnectionRecord, JsonObject, Store } from "../store/store.ts";
import { createTokenReader } from "./token-reader.ts";

describe("server/tokens/token-reader.test.ts", () => {
  let opened: Awaited<ReturnType<typeof openServiceStore>>;
  let store: Store;
  const sealed = (text: string) => ({ ciphertext: new Uint8Array(Buffer.from(text)), keyId: "k1" });
  const strategyOf = (headerName: string) => ({ type: "header", headerName, credentialField: "api_key", valuePrefix: "" });
  const profile = {
    name: "acme-watch",
    displayName: "Acme",
    category: "test",
    authType: "api_key",
    credentialSchema: { type: "object", properties: { api_key: { type: "string" } }, required: ["api_key"] },
    strategy: strategyOf("X-Api-Key"),
    urlParams: [],
  };
  const ensured: string[] = [];
  const engine = {
    ensureFresh: async (c: ConnectionRecord) => {
      ensured.push(c.id);
      return { version: c.credentialVersion, secret: { kind: "fields" as const, fields: { api_key: `key-v${c.credentialVersion}` } } };
    },
    forceRefresh: async () => {
      throw new Error("not used");
    },
  };

  /** The store with its calls counted by method name. */
  const counted = () => {
    const calls: string[] = [];
    const proxy = new Proxy(store, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          calls.push(String(name));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    return { store: proxy, calls };
  };

  const activeConnection = async (tenantId: string): Promise<ConnectionRecord> => {
    const created = await openConnection(store, { tenantId, userId: "u1", providerName: profile.name });
    await store.saveCredential(created.id, 0, { secret: sealed("v1"), expiresAtSeconds: null });
    return transition(store, created, "active", null);
  };

  before(async () => {
    opened = await openServiceStore();
    store = opened.store;
    for (const tenantId of ["tenant-a", "tenant-b"]) await store.ensureTenant({ id: tenantId });
    await store.createProvider({ name: profile.name, profile: profile as unknown as JsonObject });
  });
  after(async () => {
    await opened.close();
  });

  test("one store statement per read; the parsed profile is reused, and a provider update is seen at once", async () => {
    const connection = await activeConnection("tenant-a");
    const { store: spy, calls } = counted();
    const reader = createTokenReader({ store: spy, engine });
    const first = await reader.readWatched("tenant-a", connection.id);
    const second = await reader.readWatched("tenant-a", connection.id);
    assert.deepEqual(calls, ["getConnectionForToken", "getConnectionForToken"]);
    assert.equal(first.connection.id, connection.id);
    assert.equal(second.credential?.version, 1);
    assert.deepEqual(second.credential?.credentials, { api_key: "key-v1" });
    assert.equal(second.credential?.strategy, first.credential?.strategy, "the same parsed strategy");
    assert.equal((first.credential?.strategy as { headerName?: string } | undefined)?.headerName, "X-Api-Key");

    await store.updateProvider(profile.name, { profile: { ...profile, strategy: strategyOf("X-Other") } as unknown as JsonObject });
    const third = await reader.readWatched("tenant-a", connection.id);
    assert.equal((third.credential?.strategy as { headerName?: string } | undefined)?.headerName, "X-Other");
    await store.updateProvider(profile.name, { profile: profile as unknown as JsonObject });
  });

  test("a connection that is not usable: the connection, no credential, no engine call", async () => {
    const connection = await activeConnection("tenant-a");
    await transition(store, connection, "revoked", null);
    ensured.length = 0;
    const read = await createTokenReader({ store, engine }).readWatched("tenant-a", connection.id);
    assert.equal(read.connection.status, "revoked");
    assert.equal(read.credential, undefined);
    assert.deepEqual(ensured, []);
  });

  test("another tenant's connection is NotFound", async () => {
    const connection = await activeConnection("tenant-a");
    await assert.rejects(createTokenReader({ store, engine }).readWatched("tenant-b", connection.id), NotFoundError);
  });
});
