/**
 * Tests of the refresh lease as the engine uses it (real SQLite store, fake token endpoint): renewal
 * while a provider is slow, the at-once retry after a holder died mid provider call, the
 * refresh_lost_in_crash reason, and a flight that lost its lease before calling.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { createRefreshWorld, createTestClock, inSeconds, type RefreshWorld, type TestClock } from "../../test/support/refresh-world.ts";
import { eventually } from "../../test/support/wait.ts";
import { ConflictError, ConnectionNotUsableError } from "../domain/errors.ts";
import { createSqliteStore } from "../store/sqlite/store.ts";
import type { Store } from "../store/store.ts";
import type { StatusChangedEvent } from "./refresh-engine.ts";
import { createLeaseTokens } from "./refresh-lease.ts";

const HOUR_S = 3600;

it("lease tokens are unique per flight and carry the replica's owner id", () => {
  const next = createLeaseTokens("host:1:ab");
  assert.deepEqual([next(), next()], ["host:1:ab#1", "host:1:ab#2"]);
});

describe("refresh lease", () => {
  let dataDir = "";
  let store: Store;
  let clock: TestClock;
  let world: RefreshWorld;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "nexus-lease-"));
    clock = createTestClock();
    store = await createSqliteStore({ dataDir, now: clock.now });
    world = await createRefreshWorld(store, clock);
  });
  afterEach(async () => {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** A connection whose one-hour token expired a second ago. */
  const expired = async () => {
    const connection = await world.connect({ refreshToken: "rt-1", expiresAtSeconds: inSeconds(clock, HOUR_S) });
    clock.advance((HOUR_S + 1) * 1000);
    return world.reload(connection);
  };

  it("the holder renews its lease while the provider is slow, so nobody takes it over", async () => {
    const connection = await expired();
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    world.endpoint.reply = async () => {
      await held;
      return { body: { access_token: "at-slow", token_type: "Bearer", expires_in: 3600 } };
    };
    let renew: (() => void) | undefined;
    const engine = world.engine({
      leaseMs: 5_000,
      every: (_ms, fn) => {
        renew = fn;
        return () => {
          renew = undefined;
        };
      },
    });
    // Count the lease writes that landed, so each check runs after its renewal's write.
    let renewalsLanded = 0;
    const renewRefreshLease = store.renewRefreshLease.bind(store);
    store.renewRefreshLease = async (...args) => {
      try {
        return await renewRefreshLease(...args);
      } finally {
        renewalsLanded += 1;
      }
    };
    const flight = engine.forceRefresh(connection);
    while (world.endpoint.requests.length < 1) await new Promise((resolve) => setImmediate(resolve));
    for (let i = 0; i < 4; i += 1) {
      clock.advance(1_500);
      const landed = renewalsLanded;
      renew?.();
      await eventually(() => renewalsLanded > landed, 10_000, `renewal ${i + 1} written`);
      assert.equal(
        await store.claimRefreshLease(connection.id, "other-replica", 5_000, clock.now()),
        null,
        `renewed at ${(i + 1) * 1.5} s`,
      );
    }
    release();
    assert.ok((await flight).version === 2);
    assert.equal(renew, undefined, "renewal stops with the flight");
    assert.ok(await store.claimRefreshLease(connection.id, "other-replica", 5_000, clock.now()), "released");
  });

  it("a holder that died mid-call is retried at once with the last saved refresh token (reuse window)", async () => {
    const connection = await world.connect({ refreshToken: "rt-saved", expiresAtSeconds: inSeconds(clock, HOUR_S) });
    // A replica took the lease, marked its provider call, and died before saving what it got.
    assert.ok(await store.claimRefreshLease(connection.id, "dead-replica#1", 5_000, clock.now()));
    assert.ok(await store.renewRefreshLease(connection.id, "dead-replica#1", 5_000, clock.now(), { isCalling: true }));
    clock.advance(5_000);
    // The token is far from expiry, yet the scheduler sees the connection due as soon as the lease ran out.
    const due = await store.listDueRefreshes(clock.now(), 10);
    assert.deepEqual(
      due.map((c) => c.id),
      [connection.id],
    );
    world.endpoint.reply = () => ({
      body: { access_token: "at-reused", token_type: "Bearer", expires_in: 3600, refresh_token: "rt-next" },
    });
    const { metrics, total } = world.metrics();
    const engine = world.engine({ metrics });
    assert.equal(await engine.refreshScheduled(due[0]!), "rotated");
    assert.deepEqual(
      world.endpoint.requests.map((r) => r.params.get("refresh_token")),
      ["rt-saved"],
    );
    assert.equal(await total("rotated"), 1);
    assert.equal((await world.reload(connection)).status, "active");
  });

  it("invalid_grant right after a holder died mid-call is refresh_lost_in_crash, not invalid_grant", async () => {
    const connection = await world.connect({ refreshToken: "rt-consumed", expiresAtSeconds: inSeconds(clock, HOUR_S) });
    assert.ok(await store.claimRefreshLease(connection.id, "dead-replica#1", 5_000, clock.now()));
    assert.ok(await store.renewRefreshLease(connection.id, "dead-replica#1", 5_000, clock.now(), { isCalling: true }));
    clock.advance(5_000);
    world.endpoint.reply = () => ({ status: 400, body: { error: "invalid_grant" } });
    const statuses: StatusChangedEvent[] = [];
    const { metrics, total } = world.metrics();
    const engine = world.engine({ metrics, onStatusChanged: (e) => statuses.push(e) });
    await assert.rejects(
      engine.forceRefresh(connection),
      (error: unknown) => error instanceof ConnectionNotUsableError && error.status === "attention_required",
    );
    const after = await world.reload(connection);
    assert.equal(after.status, "attention_required");
    assert.equal(after.statusReason, "refresh_lost_in_crash");
    assert.deepEqual(
      statuses.map((e) => e.reason),
      ["refresh_lost_in_crash"],
    );
    assert.equal(await total("refresh_lost_in_crash"), 1);
    assert.equal(await total("invalid_grant"), 0);
  });

  it("a flight whose lease was taken over before its provider call does not call", async () => {
    const connection = await expired();
    const engine = world.engine({
      leaseMs: 5_000,
      // Right after our claim, another replica finds the lease expired (our clock stalled) and takes it.
      sleep: (ms) => clock.sleep(ms),
    });
    const original = store.findConnectionById.bind(store);
    let isStolen = false;
    store.findConnectionById = async (id) => {
      if (!isStolen) {
        isStolen = true;
        clock.advance(5_000);
        assert.ok(await store.claimRefreshLease(id, "thief", 5_000, clock.now()));
      }
      return original(id);
    };
    await assert.rejects(engine.forceRefresh(connection), (error: unknown) => error instanceof ConflictError && error.kind === "lease");
    assert.equal(world.endpoint.requests.length, 0);
  });
});
