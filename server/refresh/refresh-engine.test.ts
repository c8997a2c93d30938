/**
 * Tests of the refresh engine on a real SQLite store, with the real OAuth client, client
 * authentication and failure classifier talking to a fake token endpoint (injected fetch).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import {
  CLIENT_SECRET,
  createRefreshWorld,
  createTestClock,
  inSeconds,
  type RefreshWorld,
  type TestClock,
} from "../../test/support/refresh-world.ts";
import { eventually } from "../../test/support/wait.ts";
import { ConflictError, ConnectionNotUsableError, FailedPreconditionError, ProviderUnavailableError } from "../domain/errors.ts";
import type { OAuthTokenSet } from "../domain/stored-secret.ts";
import { createProviderDirectory } from "../providers/provider-directory.ts";
import { createSqliteStore } from "../store/sqlite/store.ts";
import type { Store } from "../store/store.ts";
import type { CredentialChangedEvent, StatusChangedEvent } from "./refresh-engine.ts";

const HOUR_S = 3600;
/** Moves the clock to one minute before a one-hour token (saved now) expires: inside the 5-minute skew. */
const NEAR_EXPIRY_MS = (HOUR_S - 60) * 1000;

describe("refresh engine", () => {
  let dataDir = "";
  let store: Store;
  let clock: TestClock;
  let world: RefreshWorld;
  const opened: Store[] = [];

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "nexus-refresh-"));
    clock = createTestClock();
    store = await createSqliteStore({ dataDir, now: clock.now });
    world = await createRefreshWorld(store, clock);
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const expiring = async (tokens: Partial<OAuthTokenSet> = { refreshToken: "rt-1" }) => {
    const connection = await world.connect({ expiresAtSeconds: inSeconds(clock, HOUR_S), ...tokens });
    clock.advance(NEAR_EXPIRY_MS);
    return world.reload(connection);
  };
  /** A connection whose one-hour token expired a second ago: reads wait for the refresh. */
  const expired = async (tokens: Partial<OAuthTokenSet> = { refreshToken: "rt-1" }, provider?: string) => {
    const connection = await world.connect({ expiresAtSeconds: inSeconds(clock, HOUR_S), ...tokens }, provider);
    clock.advance((HOUR_S + 1) * 1000);
    return world.reload(connection);
  };

  it("returns a fresh stored token without calling the provider", async () => {
    const connection = await world.connect({ refreshToken: "rt-1", expiresAtSeconds: inSeconds(clock, HOUR_S) });
    clock.advance(30 * 60_000);
    const result = await world.engine().ensureFresh(connection);
    assert.equal(result.version, 1);
    assert.equal(result.secret.kind === "oauth2" && result.secret.accessToken, "at-initial");
    assert.equal(world.endpoint.requests.length, 0);
  });

  it("a read of an expiring but valid token is answered at once; the refresh runs in the background", async () => {
    const connection = await expiring();
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const defaultReply = world.endpoint.reply;
    world.endpoint.reply = async (request) => {
      await held;
      return defaultReply(request);
    };
    const engine = world.engine();
    // The provider hangs: every read still gets the stored token, and one grant call is in flight.
    for (let i = 0; i < 5; i += 1) {
      const read = await engine.ensureFresh(connection);
      assert.equal(read.version, 1);
      assert.ok(read.secret.kind === "oauth2" && read.secret.accessToken === "at-initial");
    }
    assert.equal(engine.inFlightCount(), 1);
    // The flight reaches the provider once its lease's calling mark is committed (a later turn).
    await eventually(() => world.endpoint.requests.length > 0, 10_000, "the grant call reaching the provider");
    assert.equal(world.endpoint.requests.length, 1);
    release();
    assert.equal(await engine.drain(10_000), 0);
    assert.equal((await engine.ensureFresh(await world.reload(connection))).version, 2);
  });

  it("a read of an expired token waits at most readWaitMs for a hung provider, then answers unavailable", async () => {
    const connection = await expired();
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    world.endpoint.reply = async () => {
      await held;
      return { body: { access_token: "at-late", token_type: "Bearer", expires_in: 3600 } };
    };
    const engine = world.engine({ readWaitMs: 50 });
    await assert.rejects(engine.ensureFresh(connection), ProviderUnavailableError);
    assert.equal(engine.inFlightCount(), 1, "the refresh carries on");
    release();
    assert.equal(await engine.drain(10_000), 0);
    const after = await engine.ensureFresh(await world.reload(connection));
    assert.ok(after.secret.kind === "oauth2" && after.secret.accessToken === "at-late");
  });

  it("after a provider outage one probe per cool-down gets through, so recovery is seen within a second", async () => {
    const connection = await expired();
    world.endpoint.reply = () => ({ status: 503, body: {} });
    const engine = world.engine();
    await assert.rejects(engine.ensureFresh(connection), ProviderUnavailableError);
    // Inside the cool-down: fail fast, no provider call.
    await assert.rejects(engine.ensureFresh(connection), ProviderUnavailableError);
    assert.equal(world.endpoint.requests.length, 1);
    clock.advance(500);
    await assert.rejects(engine.ensureFresh(connection), ProviderUnavailableError);
    assert.equal(world.endpoint.requests.length, 2, "a probe after the cool-down");
    // However long the outage lasted, the cool-down stays at most a second.
    for (let i = 0; i < 6; i += 1) {
      clock.advance(1_000);
      await assert.rejects(engine.ensureFresh(connection), ProviderUnavailableError);
    }
    assert.equal(world.endpoint.requests.length, 8);
    world.endpoint.reply = () => ({ body: { access_token: "at-back", token_type: "Bearer", expires_in: 3600 } });
    await assert.rejects(engine.ensureFresh(connection), ProviderUnavailableError, "still cooling down");
    clock.advance(1_000);
    const back = await engine.ensureFresh(connection);
    assert.ok(back.secret.kind === "oauth2" && back.secret.accessToken === "at-back");
  });

  it("while a probe is in flight, other reads of the expired token fail fast", async () => {
    const connection = await expired();
    world.endpoint.reply = () => ({ status: 503, body: {} });
    const engine = world.engine({ readWaitMs: 60_000 });
    await assert.rejects(engine.ensureFresh(connection), ProviderUnavailableError);
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    world.endpoint.reply = async () => {
      await held;
      return { body: { access_token: "at-probe", token_type: "Bearer", expires_in: 3600 } };
    };
    clock.advance(1_000);
    const probe = engine.ensureFresh(connection);
    while (world.endpoint.requests.length < 2) await new Promise((resolve) => setImmediate(resolve));
    await assert.rejects(engine.ensureFresh(connection), ProviderUnavailableError);
    release();
    const probed = await probe;
    assert.ok(probed.secret.kind === "oauth2" && probed.secret.accessToken === "at-probe");
    assert.equal(world.endpoint.requests.length, 2);
  });

  it("200 concurrent ensureFresh calls on an expired token make exactly one grant call", async () => {
    const connection = await expired();
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const defaultReply = world.endpoint.reply;
    world.endpoint.reply = async (request) => {
      await held;
      return defaultReply(request);
    };
    const engine = world.engine();
    const calls = Array.from({ length: 200 }, () => engine.ensureFresh(connection));
    await eventually(() => world.endpoint.requests.length === 1, 10_000, "the one grant call reaching the provider");
    assert.equal(engine.inFlightCount(), 1);
    release();
    const results = await Promise.all(calls);
    assert.equal(world.endpoint.requests.length, 1);
    assert.ok(results.every((r) => r.version === 2 && r.secret.kind === "oauth2" && r.secret.accessToken === "at-1"));
    const request = world.endpoint.requests[0]!;
    assert.equal(request.params.get("grant_type"), "refresh_token");
    assert.equal(request.params.get("refresh_token"), "rt-1");
    assert.equal(request.params.get("client_secret"), CLIENT_SECRET);
    assert.equal(engine.inFlightCount(), 0);
  });

  it("two engines (replicas) on the same SQLite file make one grant call between them", async () => {
    const connection = await expiring();
    const other = await createSqliteStore({ dataDir, now: clock.now });
    opened.push(other);
    // The provider answers only once the other replica found the lease taken and paused to poll it
    // again: the race is certain, not left to timing.
    const leasePolled = Promise.withResolvers<void>();
    const sleep = (ms: number) => {
      leasePolled.resolve();
      return new Promise<void>((resolve) => setTimeout(resolve, ms));
    };
    world.endpoint.reply = async () => {
      await leasePolled.promise;
      return { body: { access_token: `at-${world.endpoint.requests.length}`, token_type: "Bearer", expires_in: 3600 } };
    };
    // Real time here: the second replica polls the lease while the first waits on the provider.
    const a = world.engine({ now: Date.now, sleep, owner: "replica-a" });
    const b = world.engine({
      store: other,
      providers: createProviderDirectory({ store: other, vault: world.vault }),
      now: Date.now,
      sleep,
      owner: "replica-b",
    });
    clock.ms = Date.now();
    const fresh = await world.reload(connection);
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).ensureFresh(fresh)));
    assert.equal(world.endpoint.requests.length, 1);
    assert.ok(results.every((r) => r.version === 2));
  });

  it("keeps the stored refresh token, id_token and scope when the provider does not rotate", async () => {
    const connection = await expiring({
      refreshToken: "rt-keep",
      idToken: "idt",
      scope: "read write",
      extra: { instance_url: "https://x" },
    });
    const engine = world.engine();
    for (let round = 1; round <= 3; round += 1) {
      const result = await engine.forceRefresh(await world.reload(connection));
      assert.equal(result.version, round + 1);
      assert.equal(world.endpoint.requests[round - 1]?.params.get("refresh_token"), "rt-keep", `refresh #${round} used the kept token`);
      assert.ok(result.secret.kind === "oauth2");
      assert.equal(result.secret.accessToken, `at-${round}`);
      assert.equal(result.secret.refreshToken, "rt-keep");
      assert.equal(result.secret.idToken, "idt");
      assert.equal(result.secret.scope, "read write");
      assert.deepEqual(result.secret.extra, { instance_url: "https://x" });
      assert.equal(result.secret.expiresAtSeconds, inSeconds(clock, HOUR_S));
    }
  });

  it("stores a rotated refresh token and uses it for the next refresh", async () => {
    const connection = await expiring({ refreshToken: "rt-0" });
    world.endpoint.reply = () => {
      const n = world.endpoint.requests.length;
      return { body: { access_token: `at-${n}`, token_type: "Bearer", expires_in: 3600, refresh_token: `rt-${n}` } };
    };
    const { metrics, total } = world.metrics();
    const engine = world.engine({ metrics });
    await engine.forceRefresh(connection);
    const second = await engine.forceRefresh(await world.reload(connection));
    assert.deepEqual(
      world.endpoint.requests.map((r) => r.params.get("refresh_token")),
      ["rt-0", "rt-1"],
    );
    assert.ok(second.secret.kind === "oauth2" && second.secret.refreshToken === "rt-2");
    assert.equal(await total("rotated"), 2);
    assert.equal((await metrics.providerSeconds.get()).values.find((v) => v.metricName?.endsWith("_count"))?.value, 2);
  });

  it("invalid_grant: attention_required, a status event, no more grant calls", async () => {
    const connection = await expired();
    world.endpoint.reply = () => ({ status: 400, body: { error: "invalid_grant", error_description: "revoked" } });
    const statuses: StatusChangedEvent[] = [];
    const { metrics, total } = world.metrics();
    const engine = world.engine({ metrics, onStatusChanged: (e) => statuses.push(e) });
    await assert.rejects(engine.ensureFresh(connection), (error: unknown) => {
      assert.ok(error instanceof ConnectionNotUsableError);
      assert.equal(error.status, "attention_required");
      return true;
    });
    const after = await world.reload(connection);
    assert.equal(after.status, "attention_required");
    assert.equal(after.statusReason, "invalid_grant");
    assert.equal(after.nextRefreshAtMs, null);
    assert.deepEqual(statuses, [
      { tenantId: connection.tenantId, connectionId: connection.id, status: "attention_required", reason: "invalid_grant" },
    ]);
    assert.equal(await total("invalid_grant"), 1);
    await assert.rejects(engine.ensureFresh(after), ConnectionNotUsableError);
    await assert.rejects(engine.forceRefresh(after), ConnectionNotUsableError);
    // A caller holding the stale (active) record is stopped under the lease, still without a grant.
    await assert.rejects(engine.ensureFresh(connection), ConnectionNotUsableError);
    assert.equal(await engine.refreshScheduled(connection), "not_active");
    assert.equal(world.endpoint.requests.length, 1);
  });

  it("invalid_grant for a refresh token another writer already replaced is not a dead grant", async () => {
    const connection = await expired({ refreshToken: "rt-old" });
    const winner = world.engine({ owner: "replica-b" });
    world.endpoint.reply = async (request) => {
      if (request.params.get("refresh_token") === "rt-old" && world.endpoint.requests.length === 1) {
        // Another replica (its lease taken after ours ran out) rotates first; ours is now stale.
        clock.advance(31_000);
        world.endpoint.reply = () => ({
          body: { access_token: "at-winner", token_type: "Bearer", expires_in: 3600, refresh_token: "rt-new" },
        });
        await winner.forceRefresh(connection);
        return { status: 400, body: { error: "invalid_grant" } };
      }
      return { status: 400, body: { error: "invalid_grant" } };
    };
    const result = await world.engine().ensureFresh(connection);
    assert.equal(result.version, 2);
    assert.ok(result.secret.kind === "oauth2" && result.secret.accessToken === "at-winner");
    assert.equal((await world.reload(connection)).status, "active");
  });

  it("transient 503 while the token is valid: serves it, schedules a backoff retry, counts attempts", async () => {
    const connection = await expiring();
    world.endpoint.reply = () => ({ status: 503, body: { error: "temporarily_unavailable" } });
    const { metrics, total } = world.metrics();
    const engine = world.engine({ metrics, random: () => 0.999, backoff: { baseMs: 10_000, maxMs: 600_000, minMs: 1_000 } });
    const served = await engine.ensureFresh(connection);
    assert.equal(served.version, 1);
    assert.ok(served.secret.kind === "oauth2" && served.secret.accessToken === "at-initial");
    assert.equal(await engine.drain(10_000), 0);
    const first = await world.reload(connection);
    assert.equal(first.status, "active");
    const firstDelay = (first.nextRefreshAtMs ?? 0) - clock.now();
    assert.ok(firstDelay > 9_000 && firstDelay <= 10_000, `first retry in ${firstDelay} ms`);
    // During the backoff, reads serve the stored token without asking the provider.
    await engine.ensureFresh(first);
    assert.equal(world.endpoint.requests.length, 1);
    // The retry comes due: the second failure backs off twice as long (full jitter, random≈1).
    clock.advance(firstDelay);
    assert.equal(await engine.refreshScheduled(await world.reload(connection)), "transient");
    const second = await world.reload(connection);
    const secondDelay = (second.nextRefreshAtMs ?? 0) - clock.now();
    assert.ok(secondDelay > 19_000 && secondDelay <= 20_000, `second retry in ${secondDelay} ms`);
    assert.equal(await total("transient"), 2);
    // Recovery resets the count and stores the new token.
    world.endpoint.reply = () => ({ body: { access_token: "at-back", token_type: "Bearer", expires_in: 3600 } });
    clock.advance(secondDelay);
    assert.equal(await engine.refreshScheduled(await world.reload(connection)), "success");
    const recovered = await engine.ensureFresh(await world.reload(connection));
    assert.ok(recovered.secret.kind === "oauth2" && recovered.secret.accessToken === "at-back");
  });

  it("transient failure with an expired token: ProviderUnavailableError", async () => {
    const connection = await world.connect({ refreshToken: "rt-1", expiresAtSeconds: inSeconds(clock, HOUR_S) });
    clock.advance((HOUR_S + 1) * 1000);
    world.endpoint.reply = () => ({ networkError: true });
    await assert.rejects(world.engine().ensureFresh(connection), ProviderUnavailableError);
    assert.equal((await world.reload(connection)).status, "active");
  });

  it("forceRefresh throws on a transient failure instead of returning the old token", async () => {
    const connection = await expiring();
    world.endpoint.reply = () => ({ status: 502, body: {} });
    await assert.rejects(world.engine().forceRefresh(connection), ProviderUnavailableError);
  });

  it("invalid_client (401) is a provider misconfiguration: connection stays active, not the user's fault", async () => {
    const connection = await world.connect({ refreshToken: "rt-1", expiresAtSeconds: inSeconds(clock, HOUR_S) });
    world.endpoint.reply = () => ({ status: 401, body: { error: "invalid_client" } });
    const { metrics, total } = world.metrics();
    const engine = world.engine({ metrics });
    await assert.rejects(engine.forceRefresh(connection), (error: unknown) => {
      assert.ok(error instanceof FailedPreconditionError);
      assert.equal(error.kind, "provider_misconfigured");
      assert.equal(error.id, "acme");
      return true;
    });
    clock.advance((HOUR_S + 1) * 1000);
    await assert.rejects(engine.ensureFresh(await world.reload(connection)), FailedPreconditionError);
    const after = await world.reload(connection);
    assert.equal(after.status, "active");
    assert.equal(after.statusReason, null);
    assert.equal(await total("config_error"), 2);
  });

  it("an engine that died holding the lease is taken over after leaseMs", async () => {
    const connection = await expired();
    assert.ok(await store.claimRefreshLease(connection.id, "dead-replica", 5_000, clock.now()));
    const startMs = clock.now();
    const result = await world.engine({ leaseMs: 5_000 }).ensureFresh(connection);
    assert.equal(result.version, 2);
    assert.equal(world.endpoint.requests.length, 1);
    const waitedMs = clock.now() - startMs;
    assert.ok(waitedMs >= 5_000 && waitedMs < 6_000, `took over after ${waitedMs} ms`);
  });

  it("a stale writer whose lease expired loses the version compare-and-set and returns the newer credential", async () => {
    const connection = await expired();
    const { metrics, total } = world.metrics();
    const stale = world.engine({ owner: "replica-a", metrics });
    const winner = world.engine({ owner: "replica-b" });
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    world.endpoint.reply = async () => {
      if (world.endpoint.requests.length === 1) {
        await held;
        return { body: { access_token: "at-stale", token_type: "Bearer", expires_in: 3600, refresh_token: "rt-stale" } };
      }
      return { body: { access_token: "at-winner", token_type: "Bearer", expires_in: 3600, refresh_token: "rt-winner" } };
    };
    const staleCall = stale.ensureFresh(connection);
    while (world.endpoint.requests.length < 1) await new Promise((resolve) => setImmediate(resolve));
    clock.advance(31_000);
    const won = await winner.ensureFresh(connection);
    assert.equal(won.version, 2);
    release();
    const result = await staleCall;
    assert.equal(result.version, 2);
    assert.ok(result.secret.kind === "oauth2" && result.secret.accessToken === "at-winner" && result.secret.refreshToken === "rt-winner");
    const stored = await world.engine().ensureFresh(await world.reload(connection));
    assert.ok(stored.secret.kind === "oauth2" && stored.secret.accessToken === "at-winner");
    assert.equal(await total("superseded"), 1);
  });

  it("no refresh token: a valid token is served; once expired the connection becomes expired (no_refresh_token)", async () => {
    const connection = await expiring({});
    const statuses: StatusChangedEvent[] = [];
    const engine = world.engine({ onStatusChanged: (e) => statuses.push(e) });
    assert.equal((await engine.ensureFresh(connection)).version, 1);
    clock.advance(61_000);
    await assert.rejects(engine.ensureFresh(connection), (error: unknown) => {
      assert.ok(error instanceof ConnectionNotUsableError);
      assert.equal(error.status, "expired");
      return true;
    });
    const after = await world.reload(connection);
    assert.equal(after.status, "expired");
    assert.equal(after.statusReason, "no_refresh_token");
    assert.deepEqual(statuses, [
      { tenantId: connection.tenantId, connectionId: connection.id, status: "expired", reason: "no_refresh_token" },
    ]);
    assert.equal(world.endpoint.requests.length, 0);
  });

  it("client-credentials connections are refreshed by a new client-credentials grant", async () => {
    const created = await expired({}, "acme-cc");
    const result = await world.engine().ensureFresh(await world.reload(created));
    assert.equal(result.version, 2);
    const request = world.endpoint.requests[0]!;
    assert.equal(request.params.get("grant_type"), "client_credentials");
    assert.equal(request.params.get("scope"), "read");
  });

  it("emits a credential event and schedules proactive refresh for kept-fresh connections", async () => {
    const connection = await expired();
    const events: CredentialChangedEvent[] = [];
    const engine = world.engine({
      shouldKeepFresh: (id) => id === connection.id,
      onCredentialChanged: (e) => events.push(e),
      random: () => 0,
    });
    const result = await engine.ensureFresh(connection);
    assert.deepEqual(events, [{ tenantId: connection.tenantId, connectionId: connection.id, version: 2, outcome: "success" }]);
    const after = await world.reload(connection);
    const expiryMs = (result.secret.expiresAtSeconds ?? 0) * 1000;
    assert.equal(after.nextRefreshAtMs, expiryMs - 5 * 60_000);
    // Not kept fresh: nothing scheduled.
    const plain = world.engine({ owner: "replica-c" });
    const second = await world.connect({ refreshToken: "rt-2", expiresAtSeconds: inSeconds(clock, 60) });
    await plain.forceRefresh(second);
    assert.equal((await world.reload(second)).nextRefreshAtMs, null);
  });

  it("forceRefresh from many callers at once makes one grant call and returns a newer version", async () => {
    const connection = await world.connect({ refreshToken: "rt-1", expiresAtSeconds: inSeconds(clock, HOUR_S) });
    const engine = world.engine();
    const results = await Promise.all(Array.from({ length: 20 }, () => engine.forceRefresh(connection)));
    assert.equal(world.endpoint.requests.length, 1);
    assert.ok(results.every((r) => r.version === 2));
  });

  it("a lease held past leaseMs by a live replica: stored token served if valid, ConflictError(lease) if expired", async () => {
    const connection = await world.connect({ refreshToken: "rt-1", expiresAtSeconds: inSeconds(clock, HOUR_S) });
    const engine = world.engine({
      leaseMs: 1_000,
      sleep: async (ms) => {
        clock.advance(ms);
        // The other replica keeps renewing its lease.
        await store.claimRefreshLease(connection.id, "busy-replica", 1_000, clock.now());
      },
    });
    await store.claimRefreshLease(connection.id, "busy-replica", 1_000, clock.now());
    const served = await engine.forceRefresh(connection).catch((error: unknown) => error);
    assert.ok(served instanceof ConflictError && served.kind === "lease");
    clock.advance(NEAR_EXPIRY_MS);
    await store.claimRefreshLease(connection.id, "busy-replica", 1_000, clock.now());
    assert.equal((await engine.ensureFresh(connection)).version, 1);
    clock.advance(120_000);
    await store.claimRefreshLease(connection.id, "busy-replica", 1_000, clock.now());
    await assert.rejects(engine.ensureFresh(connection), (error: unknown) => error instanceof ConflictError && error.kind === "lease");
    assert.equal(world.endpoint.requests.length, 0);
  });
});
