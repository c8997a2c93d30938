/**
 * WatchCredentials resume and keep-alive, end to end (test backend: SQLite or PostgreSQL): a client
 * whose stream dropped reconnects with after_version and gets the version it missed at once and
 * nothing it already had; an idle stream carries heartbeats (NEXUS_WATCH_HEARTBEAT_MS=1000), over
 * gRPC and over the Connect envelope on HTTP/1.1. Tokens here live an hour, so only forced
 * refreshes (RefreshConnection) make new versions.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { watchRaw, watchTyped } from "./support/credential-watchers.ts";
import { type RefreshRig, reportFigure, startRefreshRig, summarize } from "./support/refresh-rig.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/watch-resume.test.ts", () => {
  let rig: RefreshRig;
  let connectionId: string;
  before(async () => {
    rig = await startRefreshRig({ rotate: true, accessTtlSeconds: 3600, env: { NEXUS_WATCH_HEARTBEAT_MS: "1000" } });
    connectionId = await rig.connect();
  });
  after(() => rig?.close());

  test("resume after a dropped stream: after_version gets the missed version at once, and never a duplicate", async (t) => {
    const target = { baseUrl: rig.server.baseUrl, apiKey: rig.server.agentKey };
    const first = watchTyped(target, connectionId);
    await first.next((e) => e.version === 1);
    first.stop();
    assert.equal(await first.ended, "canceled");

    // Missed while disconnected.
    const missed = await rig.tokens.refreshConnection({ connectionId });
    assert.equal(Number(missed.credential?.version), 2);

    const openedAtMs = Date.now();
    const resumed = watchTyped(target, connectionId, 1);
    const resumedRaw = watchRaw(target, connectionId, 1);
    const current = watchRaw(target, connectionId, 2);
    try {
      const delivered = await resumed.next((e) => e.type === "credential", 2_000);
      const deliveredRaw = await resumedRaw.next((e) => e.type === "credential", 2_000);
      assert.equal(delivered.version, 2, "the missed version first");
      assert.equal(deliveredRaw.version, 2);
      assert.equal(delivered.accessToken, missed.credential?.credentials?.access_token);
      assert.equal(resumed.events[0]?.type, "credential", "delivered before anything else (no wait for a heartbeat)");

      // The next refresh reaches all three exactly once; the up-to-date one never got v2 again.
      const next = await rig.tokens.refreshConnection({ connectionId });
      assert.equal(Number(next.credential?.version), 3);
      await Promise.all([resumed, resumedRaw, current].map((w) => w.next((e) => e.version === 3)));
      // One more refresh closes the window: a stream is ordered, so a duplicate would arrive before v4.
      assert.equal(Number((await rig.tokens.refreshConnection({ connectionId })).credential?.version), 4);
      await Promise.all([resumed, resumedRaw, current].map((w) => w.next((e) => e.version === 4)));
      assert.deepEqual(resumed.versions(), [2, 3, 4]);
      assert.deepEqual(resumedRaw.versions(), [2, 3, 4]);
      assert.deepEqual(current.versions(), [3, 4], "after_version = current: no duplicate of v2");
      reportFigure(
        t,
        "resume: stream open → missed version received, ms",
        summarize([delivered.atMs - openedAtMs, deliveredRaw.atMs - openedAtMs]),
      );
    } finally {
      for (const w of [resumed, resumedRaw, current]) w.stop();
    }
  });

  test("an idle stream carries heartbeats (gRPC and HTTP/1.1), and no credential it already has", async (t) => {
    const target = { baseUrl: rig.server.baseUrl, apiKey: rig.server.agentKey };
    const { credential } = await rig.tokens.getToken({ connectionId });
    const version = Number(credential?.version);
    const typed = watchTyped(target, connectionId, version);
    const raw = watchRaw(target, connectionId, version);
    const openedAtMs = Date.now();
    try {
      await Promise.all([typed, raw].map((w) => w.next((e) => e.type === "heartbeat", 2_500)));
      await Promise.all([typed, raw].map((w) => w.next((e) => e.type === "heartbeat" && e.atMs > openedAtMs + 1_200, 2_500)));
      for (const w of [typed, raw]) {
        assert.deepEqual(w.versions(), [], "nothing but heartbeats on an idle stream");
        assert.ok(w.events.every((e) => e.type === "heartbeat"));
      }
      const gaps = typed.events.slice(1).map((e, i) => e.atMs - typed.events[i]!.atMs);
      reportFigure(t, "heartbeat (NEXUS_WATCH_HEARTBEAT_MS=1000): first after open ms / gaps ms", {
        firstMs: typed.events[0]!.atMs - openedAtMs,
        gaps: summarize(gaps),
      });
    } finally {
      typed.stop();
      raw.stop();
    }
  });
});
