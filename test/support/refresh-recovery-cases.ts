/**
 * Tests of a refresh flight's recovery paths, run on SQLite and PostgreSQL with an injected clock:
 * saving through a store outage after the provider rotated the refresh token, a takeover of a
 * holder that was slow rather than dead, and the schedule after losing to a newer credential.
 * Test support only; never imported by server code.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, it } from "node:test";
import { ConnectionNotUsableError, StoreUnavailableError } from "../../server/domain/errors.ts";
import type { Store } from "../../server/store/store.ts";
import {
  createRefreshWorld,
  createTestClock,
  inSeconds,
  type RefreshWorld,
  type TestClock,
  type TokenReply,
  type TokenRequest,
} from "./refresh-world.ts";
import { eventually } from "./wait.ts";

const HOUR_S = 3600;
const LEASE_MS = 5_000;
/** No real timers: lease renewals do not run (a stalled holder). */
const noRenewal = () => () => {};

/** A store on `clock` for one test, and how to dispose of it. */
export interface RecoveryStore {
  store: Store;
  dispose(): Promise<void>;
}

/**
 * Defines the recovery tests (call inside a describe); `open` gives each test a fresh store whose
 * clock is `clock` (SQLite, or a PostgreSQL database of its own).
 */
export function recoveryCases(open: (clock: TestClock) => Promise<RecoveryStore>): void {
  let opened: RecoveryStore;
  let store: Store;
  let clock: TestClock;
  let world: RefreshWorld;

  beforeEach(async () => {
    clock = createTestClock();
    opened = await open(clock);
    store = opened.store;
    world = await createRefreshWorld(store, clock);
  });
  afterEach(async () => {
    await opened.dispose();
  });

  /** A connection whose token expired a second ago, holding refresh token rt-1. */
  const expired = async () => {
    const connection = await world.connect({ refreshToken: "rt-1", expiresAtSeconds: inSeconds(clock, HOUR_S) });
    clock.advance((HOUR_S + 1) * 1000);
    return world.reload(connection);
  };

  /** A rotating provider without reuse window: each refresh token works once (used when received). */
  const rotating = (request: TokenRequest): TokenReply => {
    const token = request.params.get("refresh_token") ?? "";
    const seen = world.endpoint.requests.filter((r) => r.params.get("refresh_token") === token).length;
    if (seen > 1) return { status: 400, body: { error: "invalid_grant" } };
    const n = Number(token.slice(3)) + 1;
    return { body: { access_token: `at-${n}`, token_type: "Bearer", expires_in: 3600, refresh_token: `rt-${n}` } };
  };

  /** Makes saveCredential throw StoreUnavailableError while `isDown()` holds. */
  const outage = (isDown: () => boolean) => {
    const save = store.saveCredential.bind(store);
    let failures = 0;
    store.saveCredential = async (...args) => {
      if (isDown()) {
        failures += 1;
        throw new StoreUnavailableError("database unreachable (ECONNREFUSED)");
      }
      return save(...args);
    };
    return { failures: () => failures };
  };

  it("keeps a rotated token through a 10 s store outage and saves it: no grant lost", async () => {
    const connection = await expired();
    world.endpoint.reply = rotating;
    const downUntilMs = clock.now() + 10_000;
    const saves = outage(() => clock.now() < downUntilMs);
    const engine = world.engine({ every: noRenewal });
    const result = await engine.forceRefresh(connection);
    assert.ok(saves.failures() > 3, `the save was retried (${saves.failures()} failures)`);
    assert.equal(result.secret.kind === "oauth2" && result.secret.refreshToken, "rt-2");
    // The next refresh uses the saved rotated token and works.
    const again = await engine.forceRefresh(await world.reload(connection));
    assert.equal(again.secret.kind === "oauth2" && again.secret.refreshToken, "rt-3");
    assert.deepEqual(
      world.endpoint.requests.map((r) => r.params.get("refresh_token")),
      ["rt-1", "rt-2"],
    );
    assert.equal((await world.reload(connection)).status, "active");
  });

  it("after giving up on the save it keeps the calling mark: the next holder knows the call was interrupted", async () => {
    const connection = await expired();
    world.endpoint.reply = rotating;
    let isDown = true;
    outage(() => isDown);
    const { metrics, total } = world.metrics();
    const engine = world.engine({ every: noRenewal, metrics, saveRetryMs: 30_000 });
    await assert.rejects(engine.forceRefresh(connection), StoreUnavailableError);
    assert.equal(await total("save_failed"), 1);
    // The lease was not released: its calling mark survives, so once the store is back the next
    // holder retries at once with the last saved token, and a refusal is told apart as a crash loss.
    isDown = false;
    const engineB = world.engine({ every: noRenewal, owner: "replica-b" });
    await assert.rejects(engineB.forceRefresh(await world.reload(connection)), ConnectionNotUsableError);
    const after = await world.reload(connection);
    assert.equal(after.statusReason, "refresh_lost_in_crash");
    assert.deepEqual(
      world.endpoint.requests.map((r) => r.params.get("refresh_token")),
      ["rt-1", "rt-1"],
    );
  });

  it("a taker whose retry is refused waits for a slow (not dead) previous holder's save instead of marking the connection", async () => {
    const connection = await expired();
    let releaseA: () => void = () => {};
    const aAnswers = new Promise<void>((resolve) => (releaseA = resolve));
    world.endpoint.reply = async (request) => {
      // Replica A's call consumes rt-1, but its answer is held (A looks dead: no renewals) until B has called too.
      const reply = rotating(request);
      if (world.endpoint.requests.length === 1) await aAnswers;
      return reply;
    };
    const engineA = world.engine({ every: noRenewal, owner: "replica-a" });
    const flightA = engineA.forceRefresh(connection);
    await eventually(() => world.endpoint.requests.length === 1, 10_000, "the grant request", 1);
    clock.advance(LEASE_MS + 1);
    const engineB = world.engine({
      every: noRenewal,
      owner: "replica-b",
      // B's first pause while waiting: A answers and saves meanwhile.
      sleep: async (ms) => {
        clock.advance(ms);
        releaseA();
        await flightA.catch(() => undefined);
      },
    });
    const resultB = await engineB.forceRefresh(connection).finally(releaseA);
    const resultA = await flightA;
    assert.equal(resultA.version, 2);
    assert.equal(resultB.version, 2, "B uses A's saved credential");
    const after = await world.reload(connection);
    assert.equal(after.status, "active", `not marked ${after.statusReason ?? ""}`);
    assert.equal(after.credentialVersion, 2);
  });

  it("a taker whose retry is refused and whose previous holder never saves marks refresh_lost_in_crash after the wait", async () => {
    const connection = await expired();
    world.endpoint.reply = async (request) => {
      if (world.endpoint.requests.length === 1) await new Promise(() => {}); // A died at the provider.
      return rotating(request);
    };
    const engineA = world.engine({ every: noRenewal, owner: "replica-a" });
    void engineA.forceRefresh(connection).catch(() => undefined);
    await eventually(() => world.endpoint.requests.length === 1, 10_000, "the grant request", 1);
    clock.advance(LEASE_MS + 1);
    const startedMs = clock.now();
    const engineB = world.engine({ every: noRenewal, owner: "replica-b", takeoverWaitMs: 10_000 });
    await assert.rejects(engineB.forceRefresh(connection), ConnectionNotUsableError);
    assert.ok(clock.now() - startedMs >= 10_000, "B waited the takeover wait first");
    const after = await world.reload(connection);
    assert.equal(after.status, "attention_required");
    assert.equal(after.statusReason, "refresh_lost_in_crash");
  });

  for (const isRotating of [false, true]) {
    it(`a refresh that lost to a newer credential (${isRotating ? "invalid_grant" : "save conflict"}) reschedules from it, not at its lease end`, async () => {
      const connection = await expired();
      await store.setNextRefresh(connection.id, clock.now());
      let releaseA: () => void = () => {};
      const aAnswers = new Promise<void>((resolve) => (releaseA = resolve));
      world.endpoint.reply = async (request) => {
        const isFirst = world.endpoint.requests.length === 1;
        const reply = isRotating
          ? rotating(request)
          : { body: { access_token: `at-${world.endpoint.requests.length}`, token_type: "Bearer", expires_in: 3600 } };
        if (isFirst) await aAnswers;
        return reply;
      };
      const keepFresh = { shouldKeepFresh: () => true, every: noRenewal };
      const engineA = world.engine({ ...keepFresh, owner: "replica-a" });
      const flightA = engineA.forceRefresh(await world.reload(connection));
      await eventually(() => world.endpoint.requests.length === 1, 10_000, "the grant request", 1);
      clock.advance(LEASE_MS + 1);
      // B reads under its lease, then A answers and saves, then B marks its call (next_refresh_at =
      // B's lease end) and calls with the old refresh token.
      let scheduledByA: number | null = null;
      const renew = store.renewRefreshLease.bind(store);
      store.renewRefreshLease = async (id, owner, leaseMs, nowMs, options) => {
        if (owner.startsWith("replica-b") && options?.isCalling === true) {
          releaseA();
          await flightA;
          scheduledByA = (await world.reload(connection)).nextRefreshAtMs;
        }
        return renew(id, owner, leaseMs, nowMs, options);
      };
      const engineB = world.engine({ ...keepFresh, owner: "replica-b" });
      const resultB = await engineB.forceRefresh(await world.reload(connection));
      assert.equal(resultB.version, 2);
      const after = await world.reload(connection);
      assert.ok(scheduledByA !== null && scheduledByA > clock.now() + 60_000, "A scheduled a proactive refresh");
      assert.equal(after.nextRefreshAtMs, scheduledByA, "next refresh from the newer credential, not B's lease end");
      assert.equal(after.status, "active");
    });
  }
}
