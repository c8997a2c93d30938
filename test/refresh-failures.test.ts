/**
 * Refresh when the provider misbehaves, against a real OpenID Provider (test backend: SQLite or
 * PostgreSQL): a revoked grant (invalid_grant) ends in attention_required with one provider call
 * and no retries; an outage (503s, injected through the server's fetch) keeps the old token serving
 * until it expires and recovers once the provider is back; a provider that never rotates refresh
 * tokens keeps working on the stored one.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { eventually } from "./support/client-test-kit.ts";
import { watchRaw, watchTyped } from "./support/credential-watchers.ts";
import { reportFigure, sleep, startRefreshRig, storedTokens, untilExpiring } from "./support/refresh-rig.ts";
import { eventualValue } from "./support/wait.ts";

/** The code of a rejected call, or "ok". */
async function codeOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "ok";
  } catch (error) {
    return Code[ConnectError.from(error).code];
  }
}

test("revoked grant: invalid_grant → attention_required, watchers get the status and failed_precondition, one provider call and no retries", async (t) => {
  const rig = await startRefreshRig({ rotate: true, accessTtlSeconds: 3 });
  try {
    const connectionId = await rig.connect();
    const target = { baseUrl: rig.server.baseUrl, apiKey: rig.server.agentKey };
    const typed = watchTyped(target, connectionId);
    const raw = watchRaw(target, connectionId);
    await Promise.all([typed.next((e) => e.version === 1), raw.next((e) => e.version === 1)]);
    const mark = rig.idp.tokenRequests.length;
    rig.idp.revokeAllGrants();

    // The watch armed keep-fresh: the scheduled refresh meets the revoked grant.
    const [typedStatus, rawStatus] = await Promise.all([
      typed.next((e) => e.type === "status", 6_000),
      raw.next((e) => e.type === "status", 6_000),
    ]);
    const deadAtMs = Date.now();
    for (const status of [typedStatus, rawStatus]) {
      assert.equal(status.status, "attention_required");
      assert.equal(status.reason, "invalid_grant");
    }
    assert.equal(await typed.ended, "failed_precondition", "the typed stream ends with failed_precondition");
    assert.equal(await raw.ended, "failed_precondition", "the HTTP/1.1 stream's end-of-stream error is failed_precondition");
    assert.deepEqual(typed.versions(), [1], "no credential after the grant died");

    // Agents keep asking for a while: nothing reaches the provider again.
    const codes = new Set<string>();
    while (Date.now() < deadAtMs + 2_500) {
      codes.add(await codeOf(rig.tokens.getToken({ connectionId })));
      codes.add(await codeOf(rig.tokens.refreshConnection({ connectionId })));
      await sleep(100);
    }
    assert.deepEqual([...codes], ["FailedPrecondition"]);
    const again = watchTyped(target, connectionId);
    assert.equal(await again.ended, "failed_precondition", "a new watch ends at once");
    assert.equal((await again.next((e) => e.type === "status")).status, "attention_required", "after reporting the status");
    const calls = rig.refreshRequests(mark);
    assert.equal(calls.length, 1, `one refresh_token request in total (got ${calls.length})`);
    assert.equal(calls[0]!.error, "invalid_grant");
    const connection = await rig.server.app.store.getConnection("default", connectionId);
    assert.equal(connection.status, "attention_required");
    assert.equal(connection.nextRefreshAtMs, null, "nothing left scheduled");
    reportFigure(t, "invalid_grant", {
      providerCallsIn2500ms: calls.length,
      statusToWatcherMs: typedStatus.atMs - calls[0]!.answeredAtMs!,
    });
  } finally {
    await rig.close();
  }
});

test("provider outage (503): the old token serves until it expires, then Unavailable, then recovery with a new version", async (t) => {
  const outage = { isOn: false, callsAtMs: [] as number[] };
  let tokenEndpoint = "";
  const rig = await startRefreshRig({
    rotate: true,
    accessTtlSeconds: 3,
    wrapFetch: (inner) => async (url, init) => {
      if (url !== tokenEndpoint || !outage.isOn) return inner(url, init);
      outage.callsAtMs.push(Date.now());
      return new Response("upstream unavailable", { status: 503, headers: { "content-type": "text/plain" } });
    },
  });
  tokenEndpoint = `${rig.idp.issuer}/token`;
  try {
    const connectionId = await rig.connect();
    const watcher = watchTyped({ baseUrl: rig.server.baseUrl, apiKey: rig.server.agentKey }, connectionId);
    const first = await watcher.next((e) => e.version === 1);
    const expiresAtMs = first.expiresAtSeconds! * 1000;
    outage.isOn = true;

    const readings: { atMs: number; code: string; version?: number; expiresAtMs?: number }[] = [];
    while (Date.now() < expiresAtMs + 1_200) {
      try {
        const res = await rig.tokens.getToken({ connectionId });
        readings.push({
          atMs: Date.now(),
          code: "ok",
          version: Number(res.credential?.version),
          expiresAtMs: Number(res.credential?.expiresAt) * 1000,
        });
      } catch (error) {
        readings.push({ atMs: Date.now(), code: Code[ConnectError.from(error).code] });
      }
      await sleep(100);
    }
    const served = readings.filter((r) => r.code === "ok");
    assert.ok(
      served.length > 0 && served.every((r) => r.version === 1 && r.expiresAtMs! > r.atMs),
      "only the old, unexpired token is served",
    );
    assert.ok(
      readings.some((r) => r.atMs < expiresAtMs - 700 && r.code === "ok"),
      "the old token served inside the refresh skew",
    );
    const afterExpiry = readings.filter((r) => r.atMs > expiresAtMs + 100);
    assert.ok(
      afterExpiry.length > 0 && afterExpiry.every((r) => r.code === "Unavailable"),
      "after expiry: Unavailable, never the expired token",
    );
    assert.ok(outage.callsAtMs.length >= 1, "the provider was tried");
    const callsAfterExpiry = outage.callsAtMs.filter((at) => at >= expiresAtMs).length;
    assert.ok(
      callsAfterExpiry <= 4 && callsAfterExpiry < afterExpiry.length,
      `reads of an expired token back off instead of each calling the provider (${callsAfterExpiry} calls for ${afterExpiry.length} reads)`,
    );
    assert.deepEqual(watcher.versions(), [1]);

    outage.isOn = false;
    const backAtMs = Date.now();
    // Reads of an expired token back off (fail fast) between provider attempts, so recovery comes
    // at the next attempt: within the current cool-down (at most 8 s), not necessarily the first read.
    const recovered = await eventualValue(
      () => rig.tokens.getToken({ connectionId }).catch((e: unknown) => ConnectError.from(e)),
      (r) => {
        if (r instanceof ConnectError) assert.equal(r.code, Code.Unavailable, "only Unavailable while backing off");
        return !(r instanceof ConnectError);
      },
      10_000,
      "recovery within the cool-down",
      100,
    );
    assert.ok(!(recovered instanceof ConnectError));
    assert.equal(Number(recovered.credential?.version), 2, "a new version once the provider answers");
    const seen = await watcher.next((e) => e.version === 2, 5_000);
    assert.equal(seen.accessToken, recovered.credential?.credentials?.access_token);
    assert.equal((await rig.server.app.store.getConnection("default", connectionId)).status, "active");
    reportFigure(t, "provider outage", {
      outageMs: backAtMs - (outage.callsAtMs[0] ?? backAtMs),
      providerCallsWhileOldTokenValid: outage.callsAtMs.filter((at) => at < expiresAtMs).length,
      providerCallsAfterExpiry: outage.callsAtMs.filter((at) => at >= expiresAtMs).length,
      getTokenCallsAfterExpiry: afterExpiry.length,
      getTokenCalls: readings.length,
      recoveryToWatcherMs: seen.atMs - backAtMs,
    });
    watcher.stop();
  } finally {
    await rig.close();
  }
});

test("a provider that does not rotate refresh tokens (and omits them on refresh): the second and third refresh use the stored one", async (t) => {
  // oidc-provider without rotation echoes the same refresh token; Google-style providers omit it.
  // The fetch wrapper strips it from refresh answers, so Nexus must keep the stored one.
  let tokenEndpoint = "";
  const answers: { hadRefreshToken: boolean }[] = [];
  const rig = await startRefreshRig({
    rotate: false,
    accessTtlSeconds: 3,
    wrapFetch: (inner) => async (url, init) => {
      const res = await inner(url, init);
      if (url !== tokenEndpoint || !String(init.body).includes("grant_type=refresh_token") || !res.ok) return res;
      const body = (await res.json()) as Record<string, unknown>;
      answers.push({ hadRefreshToken: "refresh_token" in body });
      delete body.refresh_token;
      return new Response(JSON.stringify(body), { status: res.status, headers: { "content-type": "application/json" } });
    },
  });
  tokenEndpoint = `${rig.idp.issuer}/token`;
  try {
    const connectionId = await rig.connect();
    const initial = await storedTokens(rig.server.app, connectionId);
    assert.ok(initial.tokens.refreshToken);
    const mark = rig.idp.tokenRequests.length;

    // Refresh 1 and 2 forced (RefreshConnection), refresh 3 behind a read once the token is expiring
    // (the read is answered with the still-valid stored token at once).
    const forced = [await rig.tokens.refreshConnection({ connectionId }), await rig.tokens.refreshConnection({ connectionId })];
    assert.deepEqual(
      forced.map((r) => Number(r.credential?.version)),
      [2, 3],
    );
    await untilExpiring(Number(forced[1]!.credential?.expiresAt));
    assert.equal(Number((await rig.tokens.getToken({ connectionId })).credential?.version), 3);
    await eventually(() => rig.refreshRequests(mark).filter((c) => c.outcome === "issued").length === 3, 10_000, "the background refresh");
    let onRead = await rig.tokens.getToken({ connectionId });
    for (const deadline = Date.now() + 10_000; Number(onRead.credential?.version) !== 4 && Date.now() < deadline; ) {
      onRead = await rig.tokens.getToken({ connectionId });
    }
    assert.equal(Number(onRead.credential?.version), 4);

    const calls = rig.refreshRequests(mark);
    assert.equal(calls.length, 3);
    assert.ok(
      calls.every((c) => c.outcome === "issued"),
      "all three refreshes succeeded at the provider",
    );
    assert.equal(answers.length, 3, "the wrapper saw the three answers (and stripped their refresh_token)");
    const latest = await storedTokens(rig.server.app, connectionId);
    assert.equal(latest.version, 4);
    assert.equal(latest.tokens.refreshToken, initial.tokens.refreshToken, "the stored refresh token was kept");
    assert.equal(latest.tokens.accessToken, onRead.credential?.credentials?.access_token);
    assert.equal((await rig.server.app.store.getConnection("default", connectionId)).status, "active");
    reportFigure(t, "non-rotating provider", { refreshes: calls.length, storedRefreshTokenKept: true });
  } finally {
    await rig.close();
  }
});
