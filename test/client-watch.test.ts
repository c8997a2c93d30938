/**
 * watchCredentials against a scripted Nexus over real sockets: rotations, restarts with resume,
 * network silence, final statuses, errors that must not be retried, and every protocol.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  AttentionRequiredError,
  ConnectionRevokedError,
  createNexusClient,
  type NexusClient,
  type NexusClientOptions,
  watchCredentials,
} from "../client/index.ts";
import { ConnectionStatus } from "../gen/nexus/v1/status_pb.ts";
import { eventually, FAST_BACKOFF, memoryLogger, within } from "./support/client-test-kit.ts";
import { type ScriptedNexus, startScriptedNexus } from "./support/scripted-nexus.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/client-watch.test.ts", () => {
  let nexus: ScriptedNexus;
  const clients: NexusClient[] = [];

  beforeEach(async () => {
    nexus = await startScriptedNexus();
    nexus.addConnection("conn-1");
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await nexus.close();
  });

  function client(options: Partial<NexusClientOptions> = {}): NexusClient {
    const c = createNexusClient({ baseUrl: nexus.baseUrl, apiKey: "key-1", watch: { backoff: FAST_BACKOFF }, ...options });
    clients.push(c);
    return c;
  }

  test("yields the current credential, then each rotation, and ends quietly on abort", async () => {
    const abort = new AbortController();
    const iterator = client().watchCredentials("conn-1", { signal: abort.signal })[Symbol.asyncIterator]();
    assert.equal((await within(iterator.next())).value?.version, 1n);
    nexus.rotate("conn-1");
    const second = await within(iterator.next());
    assert.equal(second.value?.version, 2n);
    assert.equal(second.value?.credentials?.["access_token"], "tok-conn-1-v2");
    nexus.rotate("conn-1");
    assert.equal((await within(iterator.next())).value?.version, 3n);
    abort.abort();
    assert.deepEqual(await within(iterator.next()), { done: true, value: undefined });
    assert.deepEqual(
      nexus.calls.watch.map((w) => w.afterVersion),
      [0n],
    );
    assert.ok(nexus.calls.authorization.every((h) => h === "Bearer key-1"));
  });

  test("survives a server restart on the same port and resumes after the last version, without duplicates", async () => {
    const abort = new AbortController();
    const seen: bigint[] = [];
    const logger = memoryLogger();
    const c = client({ logger });
    const backoffs = () => logger.lines.filter((line) => line.includes("credential watch backing off")).length;
    const consumer = (async () => {
      for await (const credential of c.watchCredentials("conn-1", { signal: abort.signal })) seen.push(credential.version);
    })();
    await eventually(() => seen.length === 1, 3_000, "first credential");

    await nexus.stop(); // crash: every socket destroyed
    nexus.rotate("conn-1"); // v2 issued while the client cannot see it
    await eventually(() => backoffs() >= 3, 10_000, "a few failed reconnects");
    await nexus.start();
    await eventually(() => seen.length === 2, 3_000, "credential issued during the outage");
    nexus.rotate("conn-1");
    await eventually(() => seen.length === 3, 3_000, "rotation after restart");

    abort.abort();
    await within(consumer);
    assert.deepEqual(seen, [1n, 2n, 3n]);
    const resumes = nexus.calls.watch.slice(1).map((w) => w.afterVersion);
    assert.ok(resumes.length >= 1, "reconnected at least once");
    assert.ok(
      resumes.every((v) => v === 1n),
      `every resume asked after_version=1, got ${resumes.join(",")}`,
    );
    // The cache of the client was fed by the watch.
    assert.equal(c.credentials.peek("conn-1")?.version, 3n);
  });

  test("a stream that falls silent (no event, no heartbeat) is replaced", async () => {
    nexus.heartbeatIntervalMs = 0;
    const logger = memoryLogger();
    const abort = new AbortController();
    const seen: bigint[] = [];
    const c = client({ watch: { backoff: FAST_BACKOFF, heartbeatIntervalMs: 40, missedHeartbeats: 2 }, logger });
    const consumer = (async () => {
      for await (const credential of c.watchCredentials("conn-1", { signal: abort.signal })) seen.push(credential.version);
    })();
    await eventually(() => nexus.calls.watch.length >= 3, 3_000, "reconnects after silence");
    abort.abort();
    await within(consumer);
    assert.deepEqual(seen, [1n], "a reconnect never repeats a credential");
    assert.ok(nexus.calls.watch.slice(1).every((w) => w.afterVersion === 1n));
    assert.ok(logger.lines.some((line) => line.includes('"is_silent":true')));
  });

  test("heartbeats keep a quiet stream alive and are not yielded", async () => {
    nexus.heartbeatIntervalMs = 20;
    const abort = new AbortController();
    const seen: bigint[] = [];
    // A silence limit of 5 × 100 ms: wide enough that a loaded machine's event-loop stall is not
    // taken for silence, while 50 heartbeats at 20 ms still span twice that limit.
    const c = client({ watch: { backoff: FAST_BACKOFF, heartbeatIntervalMs: 100, missedHeartbeats: 5 } });
    const consumer = (async () => {
      for await (const credential of c.watchCredentials("conn-1", { signal: abort.signal })) seen.push(credential.version);
    })();
    await eventually(() => nexus.heartbeatsSent >= 50, 10_000, "50 heartbeats");
    abort.abort();
    await within(consumer);
    assert.deepEqual(seen, [1n]);
    assert.equal(nexus.calls.watch.length, 1, "no reconnect while heartbeats flow");
  });

  test("revoked ends the watch with ConnectionRevokedError and is not retried", async () => {
    const c = client();
    const iterator = c.watchCredentials("conn-1")[Symbol.asyncIterator]();
    assert.equal((await within(iterator.next())).value?.version, 1n);
    nexus.setStatus("conn-1", ConnectionStatus.REVOKED, "admin");
    const err = await within(iterator.next()).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof ConnectionRevokedError, `got ${String(err)}`);
    assert.equal(err.connectionId, "conn-1");
    assert.equal(err.reason, "admin");
    // The retry loop lives in the generator, so a finished generator cannot retry.
    assert.deepEqual(await within(iterator.next()), { done: true, value: undefined }, "the watch ended");
    assert.equal(nexus.calls.watch.length, 1, "no retry after revoked");
    assert.equal(c.credentials.peek("conn-1"), undefined, "the dead credential left the cache");
  });

  test("attention_required at stream start ends the watch with AttentionRequiredError", async () => {
    nexus.setStatus("conn-1", ConnectionStatus.ATTENTION_REQUIRED, "invalid_grant");
    const err = await within(
      (async () => {
        for await (const _ of client().watchCredentials("conn-1")) assert.fail("no credential expected");
      })(),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof AttentionRequiredError);
    assert.equal(err.reason, "invalid_grant");
    assert.equal(nexus.calls.watch.length, 1);
  });

  test("a non-final status is reported through onStatus and the watch goes on", async () => {
    const statuses: ConnectionStatus[] = [];
    const abort = new AbortController();
    const iterator = client()
      .watchCredentials("conn-1", { signal: abort.signal, onStatus: (s) => statuses.push(s.status) })
      [Symbol.asyncIterator]();
    await within(iterator.next());
    nexus.setStatus("conn-1", ConnectionStatus.EXPIRED);
    nexus.setStatus("conn-1", ConnectionStatus.ACTIVE);
    nexus.rotate("conn-1");
    assert.equal((await within(iterator.next())).value?.version, 2n);
    assert.deepEqual(statuses, [ConnectionStatus.EXPIRED, ConnectionStatus.ACTIVE]);
    abort.abort();
  });

  test("errors no retry can fix (NotFound, Unimplemented) are thrown at once", async () => {
    const c = client();
    const notFound = await within(c.watchCredentials("nope").next()).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(notFound instanceof ConnectError && notFound.code === Code.NotFound);
    nexus.watchMode = "unimplemented";
    const unimplemented = await within(c.watchCredentials("conn-1").next()).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(unimplemented instanceof ConnectError && unimplemented.code === Code.Unimplemented);
    assert.equal(nexus.calls.watch.length, 2);
  });

  test("abort during a long backoff ends the iteration promptly", async () => {
    await nexus.stop();
    const c = client();
    const abort = new AbortController();
    const started = Date.now();
    const consumer = (async () => {
      for await (const _ of watchCredentials(c.tokens, "conn-1", {
        signal: abort.signal,
        backoff: { minDelayMs: 10_000, maxDelayMs: 10_000 },
      })) {
        assert.fail("server is down");
      }
    })();
    setTimeout(() => abort.abort(), 100);
    await within(consumer, 2_000, "aborted watch");
    assert.ok(Date.now() - started < 1_500);
  });

  for (const variant of [
    { name: "grpc", options: { protocol: "grpc" } },
    { name: "grpc-web over HTTP/1.1", options: { protocol: "grpc-web", httpVersion: "1.1" } },
    { name: "connect over HTTP/1.1", options: { protocol: "connect", httpVersion: "1.1" } },
    { name: "connect over fetch", options: { protocol: "connect", fetch: globalThis.fetch } },
    { name: "grpc-web over fetch", options: { protocol: "grpc-web", fetch: globalThis.fetch } },
  ] satisfies Array<{ name: string; options: Partial<NexusClientOptions> }>) {
    test(`watch resumes across a restart over ${variant.name}`, async () => {
      const abort = new AbortController();
      const seen: bigint[] = [];
      const c = client(variant.options);
      const consumer = (async () => {
        for await (const credential of c.watchCredentials("conn-1", { signal: abort.signal })) seen.push(credential.version);
      })();
      await eventually(() => seen.length === 1, 3_000, "first credential");
      await nexus.stop();
      nexus.rotate("conn-1");
      await nexus.start();
      await eventually(() => seen.length === 2, 3_000, "resumed credential");
      abort.abort();
      await within(consumer);
      assert.deepEqual(seen, [1n, 2n]);
    });
  }
});
