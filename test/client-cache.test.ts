/**
 * The credential cache over a scripted Nexus: freshness until expires_at minus skew, single-flight,
 * static credentials, feeding from a watch, riding out an outage, and typed errors.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import {
  AttentionRequiredError,
  ConnectionRevokedError,
  createCredentialCache,
  createNexusClient,
  type NexusClient,
  NexusUnavailableError,
} from "../client/index.ts";
import { ConnectionStatus } from "../gen/nexus/v1/status_pb.ts";
import { eventually, manualClock, within } from "./support/client-test-kit.ts";
import { type ScriptedNexus, startScriptedNexus } from "./support/scripted-nexus.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/client-cache.test.ts", () => {
  let nexus: ScriptedNexus;
  let client: NexusClient;
  let clock: ReturnType<typeof manualClock>;

  beforeEach(async () => {
    nexus = await startScriptedNexus();
    clock = manualClock();
    client = createNexusClient({ baseUrl: nexus.baseUrl, apiKey: "key-1", clock });
  });
  afterEach(async () => {
    client.close();
    await nexus.close();
  });

  test("serves the cached credential until expires_at minus the skew, then fetches again", async () => {
    nexus.addConnection("c", { lifetimeSeconds: 3600 });
    const cache = createCredentialCache({ tokens: client.tokens, clock, skewMs: 60_000 });
    assert.equal((await cache.getCredential("c")).version, 1n);
    clock.advance(3600_000 - 61_000); // one second before the skew window
    assert.equal((await cache.getCredential("c")).version, 1n);
    assert.equal(nexus.calls.getToken, 1);
    nexus.rotate("c");
    clock.advance(2_000); // inside the window
    assert.equal((await cache.getCredential("c")).version, 2n);
    assert.equal(nexus.calls.getToken, 2);
  });

  test("concurrent misses share one GetToken (single-flight)", async () => {
    nexus.addConnection("c");
    const results = await Promise.all(Array.from({ length: 20 }, () => client.getCredential("c")));
    assert.ok(results.every((r) => r.version === 1n));
    assert.equal(nexus.calls.getToken, 1);
  });

  test("a static credential (no expiry) is cached for good and never refetched", async () => {
    nexus.addConnection("static", {
      lifetimeSeconds: 0,
      strategy: { type: 2, config: { case: "header", value: { headerName: "X-Api-Key" } } },
      credentials: () => ({ api_key: "static-key" }),
    });
    assert.equal((await client.getCredential("static")).expiresAt, 0n);
    clock.advance(10 * 365 * 86_400_000);
    for (let i = 0; i < 5; i++) await client.getCredential("static");
    assert.equal(nexus.calls.getToken, 1);
  });

  test("a credential shorter-lived than the skew is not refetched on every call", async () => {
    nexus.addConnection("short", { lifetimeSeconds: 30 }); // 30 s < 60 s skew
    for (let i = 0; i < 10; i++) await client.getCredential("short");
    assert.equal(nexus.calls.getToken, 1);
    clock.advance(1_500); // past the minimum refetch interval
    await client.getCredential("short");
    assert.equal(nexus.calls.getToken, 2);
  });

  test("credentials from an open watch feed the cache (no GetToken)", async () => {
    nexus.addConnection("c");
    const abort = new AbortController();
    const iterator = client.watchCredentials("c", { signal: abort.signal })[Symbol.asyncIterator]();
    await within(iterator.next());
    nexus.rotate("c");
    await within(iterator.next());
    assert.equal((await client.getCredential("c")).version, 2n);
    assert.equal(nexus.calls.getToken, 0);
    abort.abort();
    await iterator.next();
  });

  test("an older version never replaces a newer one", async () => {
    nexus.addConnection("c");
    const v1 = nexus.credential("c");
    const v2 = nexus.rotate("c");
    client.credentials.put(v2);
    client.credentials.put(v1);
    assert.equal(client.credentials.peek("c")?.version, 2n);
  });

  test("during a Nexus outage a still-valid credential is served; an expired one gives NexusUnavailableError", async () => {
    nexus.addConnection("c", { lifetimeSeconds: 3600 });
    await client.getCredential("c");
    await nexus.stop();
    clock.advance(3600_000 - 30_000); // inside the skew window, not expired
    assert.equal((await client.getCredential("c")).version, 1n);
    clock.advance(60_000); // expired
    await assert.rejects(client.getCredential("c"), NexusUnavailableError);
  });

  test("attention_required and revoked become typed errors and empty the cache", async () => {
    nexus.addConnection("a");
    nexus.addConnection("r");
    nexus.setStatus("a", ConnectionStatus.ATTENTION_REQUIRED, "invalid_grant");
    nexus.setStatus("r", ConnectionStatus.REVOKED);
    await assert.rejects(client.getCredential("a"), (err: unknown) => err instanceof AttentionRequiredError && err.connectionId === "a");
    await assert.rejects(client.getCredential("r"), ConnectionRevokedError);
    await assert.rejects(client.credentials.refreshCredential("r"), ConnectionRevokedError);
  });

  test("refreshCredential forces RefreshConnection once for concurrent callers and skips it when a newer version is cached", async () => {
    nexus.addConnection("c");
    const first = await client.getCredential("c");
    const refreshed = await Promise.all(
      Array.from({ length: 5 }, () => client.credentials.refreshCredential("c", { staleVersion: first.version })),
    );
    assert.ok(refreshed.every((r) => r.version === 2n));
    assert.equal(nexus.calls.refreshConnection, 1);
    await client.credentials.refreshCredential("c", { staleVersion: first.version });
    assert.equal(nexus.calls.refreshConnection, 1, "a newer version was already cached");
  });

  test("RefreshConnection answering Unimplemented falls back to GetToken", async () => {
    nexus.addConnection("c");
    await client.getCredential("c");
    nexus.refreshMode = "unimplemented";
    nexus.rotate("c");
    assert.equal((await client.credentials.refreshCredential("c")).version, 2n);
    assert.equal(nexus.calls.refreshConnection, 1);
    assert.equal(nexus.calls.getToken, 2);
  });

  test("a caller's abort stops its wait, not the shared fetch", async () => {
    nexus.addConnection("c");
    const abort = new AbortController();
    abort.abort();
    await assert.rejects(client.getCredential("c", { signal: abort.signal }));
    const other = await client.getCredential("c");
    assert.equal(other.version, 1n);
    await eventually(() => nexus.calls.getToken >= 1);
  });
});
