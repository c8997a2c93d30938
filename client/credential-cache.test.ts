// The credential cache at its seam, with a fake TokenService client and a manual clock: served
// while fresh, one request for concurrent callers, a newer version never replaced by an older one,
// riding out an outage on a still-valid credential, typed errors otherwise, and the forced refresh.
import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Credential, CredentialSchema, StrategyType } from "../gen/nexus/v1/credential_pb.ts";
import { ErrorInfoSchema, ErrorReason } from "../gen/nexus/v1/errors_pb.ts";
import { createCredentialCache } from "./credential-cache.ts";
import { AttentionRequiredError, NexusUnavailableError } from "./errors.ts";
import type { TokenClient } from "./watch.ts";

const START_MS = 1_700_000_000_000;

function credential(version: number, expiresAtMs: number | null, id = "conn_1"): Credential {
  return create(CredentialSchema, {
    connectionId: id,
    strategy: { type: StrategyType.OAUTH2 },
    credentials: { access_token: `at-${version}` },
    version: BigInt(version),
    expiresAt: expiresAtMs === null ? 0n : BigInt(Math.floor(expiresAtMs / 1000)),
  });
}

/** A TokenService client whose answers the test scripts; it counts the calls. */
function fakeTokens() {
  const calls = { getToken: 0, refreshConnection: 0 };
  const script = {
    getToken: async (): Promise<Credential> => assert.fail("unexpected GetToken"),
    refreshConnection: async (): Promise<Credential> => assert.fail("unexpected RefreshConnection"),
  };
  const tokens = {
    async getToken() {
      calls.getToken += 1;
      return { credential: await script.getToken() };
    },
    async refreshConnection() {
      calls.refreshConnection += 1;
      return { credential: await script.refreshConnection() };
    },
  } as unknown as TokenClient;
  return { tokens, calls, script };
}

function setup(options: { skewMs?: number; minRefetchIntervalMs?: number } = {}) {
  const clock = { ms: START_MS, now: () => clock.ms };
  const fake = fakeTokens();
  const cache = createCredentialCache({ tokens: fake.tokens, clock, ...options });
  return { ...fake, clock, cache };
}

test("serves the cached credential until skew before expiry, then asks again", async () => {
  const rig = setup({ skewMs: 60_000 });
  rig.script.getToken = async () => credential(1, START_MS + 600_000);
  assert.equal((await rig.cache.getCredential("conn_1")).version, 1n);
  rig.clock.ms = START_MS + 539_000;
  await rig.cache.getCredential("conn_1");
  assert.equal(rig.calls.getToken, 1, "fresh until expiry minus skew");
  rig.clock.ms = START_MS + 541_000;
  rig.script.getToken = async () => credential(2, START_MS + 1_200_000);
  assert.equal((await rig.cache.getCredential("conn_1")).version, 2n);
  assert.equal(rig.calls.getToken, 2);
});

test("a static credential (no expiry) is kept; a token shorter than the skew is kept for the refetch interval", async () => {
  const rig = setup({ skewMs: 60_000, minRefetchIntervalMs: 1_000 });
  rig.script.getToken = async () => credential(1, null);
  await rig.cache.getCredential("conn_1");
  rig.clock.ms += 365 * 86_400_000;
  await rig.cache.getCredential("conn_1");
  assert.equal(rig.calls.getToken, 1);
  rig.script.getToken = async () => credential(1, rig.clock.ms + 30_000, "conn_2");
  await rig.cache.getCredential("conn_2");
  rig.clock.ms += 999;
  await rig.cache.getCredential("conn_2");
  assert.equal(rig.calls.getToken, 2, "served inside the refetch interval");
  rig.clock.ms += 2;
  await rig.cache.getCredential("conn_2");
  assert.equal(rig.calls.getToken, 3);
});

test("concurrent callers share one GetToken; an aborted caller stops waiting, the others get it", async () => {
  const rig = setup();
  const answer = Promise.withResolvers<Credential>();
  rig.script.getToken = () => answer.promise;
  const abort = new AbortController();
  const waiting = Array.from({ length: 5 }, () => rig.cache.getCredential("conn_1"));
  const aborted = rig.cache.getCredential("conn_1", { signal: abort.signal });
  abort.abort(new Error("caller gave up"));
  await assert.rejects(aborted, /caller gave up/);
  answer.resolve(credential(3, START_MS + 3_600_000));
  for (const got of await Promise.all(waiting)) assert.equal(got.version, 3n);
  assert.equal(rig.calls.getToken, 1);
});

test("put: a newer version replaces the cached one, an older one is ignored", async () => {
  const rig = setup();
  rig.cache.put(credential(5, START_MS + 3_600_000));
  rig.cache.put(credential(4, START_MS + 7_200_000));
  assert.equal(rig.cache.peek("conn_1")?.version, 5n);
  rig.cache.put(credential(6, START_MS + 3_600_000));
  assert.equal((await rig.cache.getCredential("conn_1")).version, 6n);
  rig.cache.invalidate("conn_1");
  assert.equal(rig.cache.peek("conn_1"), undefined);
});

test("Nexus unavailable: a still-valid cached credential is served, an expired one is NexusUnavailableError", async () => {
  const rig = setup({ skewMs: 60_000 });
  rig.cache.put(credential(1, START_MS + 30_000));
  rig.script.getToken = async () => {
    throw new ConnectError("connect ECONNREFUSED", Code.Unavailable);
  };
  assert.equal((await rig.cache.getCredential("conn_1")).version, 1n, "inside the skew but not expired");
  rig.clock.ms = START_MS + 30_000;
  await assert.rejects(rig.cache.getCredential("conn_1"), NexusUnavailableError);
  assert.equal(rig.cache.peek("conn_1")?.version, 1n, "an outage does not drop the cache");
});

test("attention_required becomes AttentionRequiredError and drops the cached credential", async () => {
  const rig = setup();
  rig.cache.put(credential(1, START_MS + 10_000));
  rig.clock.ms += 2_000; // past the refetch interval: the cache asks
  rig.script.getToken = async () => {
    const info = create(ErrorInfoSchema, { reason: ErrorReason.CONNECTION_NEEDS_ATTENTION });
    throw new ConnectError("needs attention", Code.FailedPrecondition, undefined, [{ desc: ErrorInfoSchema, value: info }]);
  };
  await assert.rejects(rig.cache.getCredential("conn_1"), AttentionRequiredError);
  assert.equal(rig.cache.peek("conn_1"), undefined);
});

test("refreshCredential: a newer cached version answers a stale one; Unimplemented falls back to GetToken", async () => {
  const rig = setup();
  rig.cache.put(credential(7, START_MS + 3_600_000));
  assert.equal((await rig.cache.refreshCredential("conn_1", { staleVersion: 6n })).version, 7n);
  assert.equal(rig.calls.refreshConnection, 0);
  rig.script.refreshConnection = async () => credential(8, START_MS + 3_600_000);
  assert.equal((await rig.cache.refreshCredential("conn_1", { staleVersion: 7n })).version, 8n);
  rig.script.refreshConnection = async () => {
    throw new ConnectError("no refresh engine", Code.Unimplemented);
  };
  rig.script.getToken = async () => credential(9, START_MS + 3_600_000);
  assert.equal((await rig.cache.refreshCredential("conn_1")).version, 9n);
  assert.deepEqual(rig.calls, { getToken: 1, refreshConnection: 2 });
});
