// watchCredentials at its seam, with a fake TokenService whose streams the test scripts, one per
// connection attempt: resume after the last version yielded (never twice), reconnect after a
// transient failure or a silent stream, stop for good with a typed error on attention_required or
// revoked, and end quietly on abort.
import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Credential, CredentialSchema, StrategyType } from "../gen/nexus/v1/credential_pb.ts";
import { ConnectionStatus } from "../gen/nexus/v1/status_pb.ts";
import type { WatchCredentialsResponse } from "../gen/nexus/v1/tokens_pb.ts";
import { AttentionRequiredError, ConnectionRevokedError } from "./errors.ts";
import { type TokenClient, watchCredentials } from "./watch.ts";

type Event = WatchCredentialsResponse["event"];
const FAST = { backoff: { minDelayMs: 1, maxDelayMs: 1 } };

function credentialEvent(version: number): Event {
  const value: Credential = create(CredentialSchema, {
    connectionId: "conn_1",
    strategy: { type: StrategyType.OAUTH2 },
    credentials: { access_token: `at-${version}` },
    version: BigInt(version),
  });
  return { case: "credential", value };
}
function statusEvent(status: ConnectionStatus, reason = ""): Event {
  return { case: "status", value: { $typeName: "nexus.v1.StatusChange", status, reason } } as Event;
}

/**
 * A TokenService whose n-th WatchCredentials call streams `attempts[n]`: events, then an optional
 * error; "hang" waits until the call is aborted. Records each call's after_version.
 */
function fakeTokens(attempts: { events: Event[]; ending?: Error | "hang" }[]) {
  const afterVersions: bigint[] = [];
  const tokens = {
    async *watchCredentials(req: { afterVersion: bigint }, options: { signal: AbortSignal }) {
      const attempt = attempts[afterVersions.length] ?? { events: [], ending: "hang" as const };
      afterVersions.push(req.afterVersion);
      for (const event of attempt.events) yield { event };
      if (attempt.ending === "hang") {
        const { signal } = options;
        await new Promise((_, reject) => {
          if (signal.aborted) reject(signal.reason);
          signal.addEventListener("abort", () => reject(signal.reason), { once: true });
        });
      } else if (attempt.ending) {
        throw attempt.ending;
      }
    },
  } as unknown as TokenClient;
  return { tokens, afterVersions };
}

async function collect(iterable: AsyncIterable<Credential>, count: number): Promise<bigint[]> {
  const versions: bigint[] = [];
  for await (const credential of iterable) {
    versions.push(credential.version);
    if (versions.length === count) break;
  }
  return versions;
}

test("resumes after the last version yielded and never yields one twice", async () => {
  const fake = fakeTokens([
    { events: [credentialEvent(1), credentialEvent(2)], ending: new ConnectError("stream reset", Code.Unavailable) },
    // A replica behind a balancer may resend an older version after the reconnect.
    { events: [credentialEvent(2), credentialEvent(1), credentialEvent(3)] },
  ]);
  assert.deepEqual(await collect(watchCredentials(fake.tokens, "conn_1", FAST), 3), [1n, 2n, 3n]);
  assert.deepEqual(fake.afterVersions, [0n, 2n]);
});

test("a stream the server ends without a status is reopened from the resume point", async () => {
  const fake = fakeTokens([{ events: [credentialEvent(4)] }, { events: [credentialEvent(5)] }]);
  assert.deepEqual(await collect(watchCredentials(fake.tokens, "conn_1", { ...FAST, afterVersion: 3n }), 2), [4n, 5n]);
  assert.deepEqual(fake.afterVersions, [3n, 4n]);
});

test("a silent stream (no event, no heartbeat) is abandoned and reopened", async () => {
  const fake = fakeTokens([{ events: [credentialEvent(1)], ending: "hang" }, { events: [credentialEvent(2)] }]);
  const options = { ...FAST, heartbeatIntervalMs: 5, missedHeartbeats: 2 };
  assert.deepEqual(await collect(watchCredentials(fake.tokens, "conn_1", options), 2), [1n, 2n]);
  assert.deepEqual(fake.afterVersions, [0n, 1n]);
});

test("attention_required and revoked end the watch with typed errors carrying the reason", async () => {
  const attention = fakeTokens([{ events: [credentialEvent(1), statusEvent(ConnectionStatus.ATTENTION_REQUIRED, "invalid_grant")] }]);
  await assert.rejects(collect(watchCredentials(attention.tokens, "conn_1", FAST), 5), (err: unknown) => {
    assert.ok(err instanceof AttentionRequiredError);
    assert.equal(err.reason, "invalid_grant");
    return true;
  });
  const revoked = fakeTokens([{ events: [statusEvent(ConnectionStatus.REVOKED, "revoked_by_api")] }]);
  await assert.rejects(collect(watchCredentials(revoked.tokens, "conn_1", FAST), 5), ConnectionRevokedError);
  assert.equal(revoked.afterVersions.length, 1, "no reconnect after a final status");
});

test("other statuses go to onStatus and the watch goes on", async () => {
  const statuses: ConnectionStatus[] = [];
  const fake = fakeTokens([{ events: [statusEvent(ConnectionStatus.PENDING, ""), credentialEvent(1)] }]);
  const watch = watchCredentials(fake.tokens, "conn_1", { ...FAST, onStatus: ({ status }) => statuses.push(status) });
  assert.deepEqual(await collect(watch, 1), [1n]);
  assert.deepEqual(statuses, [ConnectionStatus.PENDING]);
});

test("an error no retry can fix ends the watch with it; abort ends it quietly", async () => {
  const notFound = fakeTokens([{ events: [], ending: new ConnectError("no such connection", Code.NotFound) }]);
  await assert.rejects(collect(watchCredentials(notFound.tokens, "conn_1", FAST), 1), (err: unknown) => {
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, Code.NotFound);
    return true;
  });
  assert.equal(notFound.afterVersions.length, 1);
  const abort = new AbortController();
  const hanging = fakeTokens([{ events: [credentialEvent(1)], ending: "hang" }]);
  const versions: bigint[] = [];
  for await (const credential of watchCredentials(hanging.tokens, "conn_1", { ...FAST, signal: abort.signal })) {
    versions.push(credential.version);
    abort.abort();
  }
  assert.deepEqual(versions, [1n]);
});
