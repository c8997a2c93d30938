/**
 * A provider that fails (503) and then hangs (accepts, never answers): reads of a token that is
 * still valid but inside the refresh skew are answered at once from the store while the refresh
 * runs behind them; reads of an expired token answer `unavailable` after the read bound, never
 * after the provider's timeouts; once the provider answers again, reads succeed soon after (a
 * probe still hung at that moment first runs into the 5 s first-byte timeout).
 * Runs on the test backend (SQLite or PostgreSQL).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { TokenService } from "../gen/nexus/v1/tokens_pb.ts";
import { generateKeyringText } from "../server/vault/keyring.ts";
import { reportFigure, summarize } from "./support/refresh-rig.ts";
import { registerRotatingProvider, seedRotatingConnection, startRotatingProvider } from "./support/rotating-provider.ts";
import { startServer } from "./support/start-server.ts";
import { eventualValue } from "./support/wait.ts";

/** The read bound for this test (NEXUS_REFRESH_READ_WAIT_MS), ms. */
const READ_WAIT_MS = 500;

test("provider 503 then hanging: valid tokens served at once, expired ones answer unavailable within the bound, recovery seen soon after", async (t) => {
  const provider = await startRotatingProvider({ reuseWindowMs: 0, accessTtlSeconds: 3600 });
  // The refresh margin of a 16-second token is half its life (token-freshness.ts): past 8 s, every
  // read of it wants a refresh while it is still valid for almost 8 s.
  // The server's clock runs ahead on demand (token age, cool-down) instead of the test sleeping.
  let aheadMs = 0;
  const server = await startServer({
    overrides: { now: () => Date.now() + aheadMs },
    env: {
      NEXUS_REFRESH_SKEW_MS: "60000",
      NEXUS_REFRESH_READ_WAIT_MS: String(READ_WAIT_MS),
      NEXUS_ENCRYPTION_KEYS: generateKeyringText("k1"),
    },
  });
  try {
    await registerRotatingProvider(server.app, "hang-idp", provider);
    const valid = await seedRotatingConnection(server.app, "hang-idp", provider.newGrant(), 16);
    // A second valid one, untouched by the 503 phase (whose failure puts `valid` into backoff).
    const validInHang = await seedRotatingConnection(server.app, "hang-idp", provider.newGrant(), 16);
    const expired = await seedRotatingConnection(server.app, "hang-idp", provider.newGrant(), -1);
    const tokens = createClient(TokenService, createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [server.bearer()] }));
    const read = async (connectionId: string) => {
      const startedMs = Date.now();
      try {
        const res = await tokens.getToken({ connectionId });
        return {
          code: "ok",
          version: Number(res.credential?.version),
          ms: Date.now() - startedMs,
          hangingAtAnswer: provider.stats.hanging,
        };
      } catch (error) {
        return {
          code: Code[ConnectError.from(error).code],
          version: 0,
          ms: Date.now() - startedMs,
          hangingAtAnswer: provider.stats.hanging,
        };
      }
    };

    aheadMs += 8_100;
    provider.mode = "unavailable";
    assert.equal((await read(valid)).code, "ok", "503: the still-valid token is served");
    assert.equal((await read(expired)).code, "Unavailable", "503: no token to serve");

    provider.mode = "hang";
    const validReads = [];
    for (let i = 0; i < 10; i += 1) validReads.push(await read(i % 2 === 0 ? validInHang : valid));
    // The answers did not wait for the provider: the refresh they started still hangs after the last
    // one (a read that had waited it out would have seen it time out, and backoff starts no other).
    assert.ok(
      validReads.every((r) => r.code === "ok" && r.version === 1),
      JSON.stringify(validReads),
    );
    assert.ok(validReads.at(-1)!.hangingAtAnswer >= 1, "served while the refresh hung");
    assert.ok(provider.stats.hanging >= 1, "a refresh is still hanging at the provider");
    // Past the cool-down left by the 503s, the next read of the expired token is the probe: it waits
    // for the read bound, then answers while its refresh still hangs; the reads after it fail fast.
    aheadMs += 1_100;
    const hangingBefore = provider.stats.hanging;
    const expiredReads = [];
    for (let i = 0; i < 5; i += 1) expiredReads.push(await read(expired));
    assert.equal(provider.stats.hanging, hangingBefore + 1, "one probe reached the hung provider");
    assert.ok(
      expiredReads.every((r) => r.code === "Unavailable"),
      JSON.stringify(expiredReads),
    );
    assert.ok(
      expiredReads.every((r) => r.hangingAtAnswer >= 1),
      "answered while the provider still hung: bounded by the read wait, not the provider",
    );

    provider.mode = "normal";
    const recoveredAtMs = Date.now();
    let attempts = 0;
    const recovered = await eventualValue(
      () => {
        attempts += 1;
        return read(expired);
      },
      (r) => r.code === "ok",
      30_000,
      "reads of the expired token recovering",
      100,
    );
    assert.ok(recovered.version >= 2);
    reportFigure(t, "provider hang", {
      readWaitMs: READ_WAIT_MS,
      validTokenReadMs: summarize(validReads.map((r) => r.ms)),
      expiredTokenReadMs: summarize(expiredReads.map((r) => r.ms)),
      recoveryMs: Date.now() - recoveredAtMs,
      recoveryReads: attempts,
    });
  } finally {
    await server.close();
    await provider.close();
  }
});
