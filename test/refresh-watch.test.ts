/**
 * Keeping a short-lived token fresh, end to end: a real OpenID Provider issuing 3-second access
 * tokens with rotating refresh tokens, Nexus refreshing 1 s before expiry, and two watchers — the
 * typed connect-node client (gRPC/HTTP 2) and hand-made Connect envelopes over HTTP/1.1 fetch.
 * First the watchers alone (the scheduler must keep a watched token fresh), then with GetToken in a
 * loop (refresh on read). Runs on the test backend (SQLite, or PostgreSQL through LISTEN/NOTIFY).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type CredentialWatcher, type WatchRecord, watchRaw, watchTyped } from "./support/credential-watchers.ts";
import { type RefreshRig, reportFigure, sleep, startRefreshRig, storedTokens, summarize } from "./support/refresh-rig.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/refresh-watch.test.ts", () => {
  let rig: RefreshRig;
  before(async () => {
    rig = await startRefreshRig({ rotate: true, accessTtlSeconds: 3 });
  });
  after(() => rig?.close());

  /** Every credential event received (the watchers' own view): versions consecutive from `first`. */
  function assertEveryVersionOnce(watcher: CredentialWatcher, first: number, label: string): number[] {
    const versions = watcher.versions();
    assert.deepEqual(
      versions,
      Array.from({ length: versions.length }, (_, i) => first + i),
      `${label}: consecutive versions, no duplicate, no gap`,
    );
    return versions;
  }

  test("watchers see every refresh once and in order, before the old token expires; GetToken never returns an expired token", async (t) => {
    const connectionId = await rig.connect();
    const target = { baseUrl: rig.server.baseUrl, apiKey: rig.server.agentKey };
    const typed = watchTyped(target, connectionId);
    const raw = watchRaw(target, connectionId);
    try {
      await Promise.all([typed.next((e) => e.version === 1), raw.next((e) => e.version === 1)]);

      // Phase 1, watchers alone: only the scheduler refreshes (the watch armed keep-fresh).
      await typed.next((e) => e.version === 3, 30_000);
      const watchOnly = typed.events.filter((e) => e.type === "credential");
      assert.ok(watchOnly.length >= 3, `at least two scheduled refreshes (got versions ${typed.versions().join(",")})`);
      for (let i = 1; i < watchOnly.length; i++) {
        const previous = watchOnly[i - 1]!;
        assert.ok(
          watchOnly[i]!.atMs < previous.expiresAtSeconds! * 1000,
          `v${watchOnly[i]!.version} arrived before v${previous.version} expired`,
        );
      }

      // Phase 2, plus GetToken in a loop: reads refresh too; none may hand out an expired token.
      const readings: { atMs: number; version: number; expiresAtMs: number; accessToken: string }[] = [];
      const checkedAtProvider = new Set<string>();
      const until = Date.now() + 3_500;
      while (Date.now() < until) {
        const res = await rig.tokens.getToken({ connectionId });
        const atMs = Date.now();
        const accessToken = String(res.credential?.credentials?.access_token ?? "");
        readings.push({
          atMs,
          version: Number(res.credential?.version),
          expiresAtMs: Number(res.credential?.expiresAt) * 1000,
          accessToken,
        });
        if (!checkedAtProvider.has(accessToken)) {
          checkedAtProvider.add(accessToken);
          // The provider itself must accept the token just handed out.
          const userinfo = await fetch(`${rig.idp.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
          assert.equal(userinfo.status, 200, `the provider accepts v${res.credential?.version} at once`);
          await userinfo.body?.cancel();
        }
        await sleep(25);
      }
      for (const r of readings) assert.ok(r.expiresAtMs > r.atMs, `GetToken v${r.version} was not expired when received`);
      for (let i = 1; i < readings.length; i++)
        assert.ok(readings[i]!.version >= readings[i - 1]!.version, "GetToken versions never go back");
      assert.ok(new Set(readings.map((r) => r.version)).size >= 2, "reads saw at least one refresh");

      // Let the watchers catch up with everything the provider issued so far, then compare. (A
      // scheduled refresh may still land meanwhile: it must then come after these, in order.)
      const issued = rig.idp.tokenRequests.filter((r) => r.outcome === "issued").map((r) => r.accessToken);
      await Promise.all([typed.next((e) => e.version === issued.length), raw.next((e) => e.version === issued.length)]);
      const typedVersions = assertEveryVersionOnce(typed, 1, "typed");
      assert.deepEqual(assertEveryVersionOnce(raw, 1, "raw HTTP/1.1"), typedVersions, "both protocols saw the same versions");
      const seen = (w: CredentialWatcher) =>
        w.events
          .filter((e) => e.type === "credential")
          .map((e) => e.accessToken)
          .slice(0, issued.length);
      assert.deepEqual(seen(typed), issued, "every token the provider issued reached the typed watcher, in order");
      assert.deepEqual(seen(raw), issued, "and the raw watcher");
      assert.equal(rig.idp.tokenRequests.filter((r) => r.outcome !== "issued" && r.outcome !== "pending").length, 0, "no refresh failed");
      assert.ok(
        rig.idp.tokenRequests.every((r) => r.grantType === "authorization_code" || r.outcome === "pending" || r.hasRefreshToken),
        "every refresh rotated the refresh token",
      );
      const { tokens } = await storedTokens(rig.server.app, connectionId);
      assert.ok(tokens.refreshToken, "the latest rotated refresh token is stored");

      const latency = (w: CredentialWatcher) =>
        w.events
          .filter((e): e is WatchRecord & { accessToken: string } => e.type === "credential" && e.version! > 1)
          .map((e) => e.atMs - rig.idp.tokenRequests.find((r) => r.accessToken === e.accessToken)!.answeredAtMs!);
      reportFigure(t, "refresh → watcher receipt ms (connect-node gRPC)", summarize(latency(typed)));
      reportFigure(t, "refresh → watcher receipt ms (Connect envelope over HTTP/1.1 fetch)", summarize(latency(raw)));
      reportFigure(t, "refreshes seen", {
        versions: typedVersions.length,
        getTokenCalls: readings.length,
        watchOnlyRefreshes: watchOnly.length - 1,
      });
      const margins = watchOnly.slice(1).map((e, i) => watchOnly[i]!.expiresAtSeconds! * 1000 - e.atMs);
      reportFigure(t, "scheduled refresh: new version received before old expiry, ms", summarize(margins));
    } finally {
      typed.stop();
      raw.stop();
    }
    assert.equal(await typed.ended, "canceled");
    assert.equal(await raw.ended, "canceled");
  });
});
